#Requires -Version 5.1
# Export-, Test- and Sync-MSCommerceBaseline (issue 10, item 4) against the emulator serving today's
# catalogue (docs2025, 26 products): files, drift, applying with exactly the writes needed, errors.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
    Set-EmulatorCatalogue -Catalogue 'docs2025'
    Connect-AsUser

    function Set-ProductBehindTheBack {
        # Changes (or adds) a product in the emulator, not through the module.
        param([string] $ProductId, [string] $Value = 'Enabled', [string] $Name)
        $body = @{ productId = $ProductId; policyValue = $Value }
        if ($Name) {
            $body.productName = $Name
        }
        $null = Invoke-Emulator -Path '/_emulator/products' -Body $body
    }

    function Get-ProductIds {
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | ForEach-Object { $_.ProductId })
    }

    $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ('mscommerce-baseline-{0}' -f [guid]::NewGuid())
    $null = New-Item -ItemType Directory -Path $script:Folder
}

AfterAll {
    Stop-TestEnvironment
    Remove-Item -LiteralPath $script:Folder -Recurse -Force -ErrorAction Ignore
}

Describe 'Export-MSCommerceBaseline' {
    BeforeEach {
        Reset-Emulator
    }

    It 'writes the tenant''s products as the library''s baseline JSON, UTF-8 without a byte order mark' {
        Set-ProductBehindTheBack -ProductId 'CFQ7TTC0ZZZZ' -Name 'Produit d''essai – Übersicht €'
        $path = Join-Path $script:Folder 'export.json'
        $output = @(Export-MSCommerceBaseline -Path $path -OtherProducts Disabled)
        $output | Should -HaveCount 0
        $bytes = [System.IO.File]::ReadAllBytes($path)
        @($bytes[0..2]) | Should -Not -Be @(0xEF, 0xBB, 0xBF)
        $text = [System.Text.Encoding]::UTF8.GetString($bytes)
        $text | Should -Match '"ProductName": "Produit d''essai – Übersicht €"'
        $baseline = $text | ConvertFrom-Json
        @($baseline.PSObject.Properties.Name) | Should -Be @('PolicyId', 'TenantId', 'ExportedAt', 'Tool', 'Products', 'OtherProducts')
        $baseline.OtherProducts | Should -Be 'Disabled'
        @($baseline.Products) | Should -HaveCount 27
        @($baseline.Products[0].PSObject.Properties.Name) | Should -Be @('ProductId', 'ProductName', 'PolicyValue')
        @($baseline.Products | ForEach-Object { $_.ProductId }) | Should -Be (Get-ProductIds)
    }

    It 'resolves a relative path against the current location, and -PassThru outputs the baseline' {
        Push-Location -LiteralPath $script:Folder
        try {
            $baseline = Export-MSCommerceBaseline -Path 'relative.json' -PassThru
        }
        finally {
            Pop-Location
        }
        Test-Path -LiteralPath (Join-Path $script:Folder 'relative.json') | Should -BeTrue
        $baseline.PSObject.TypeNames[0] | Should -Be 'MSCommerce.Baseline'
        $baseline.OtherProducts | Should -Be 'Keep'
        $baseline.ExportedAt | Should -BeOfType [datetime]
        @($baseline.Products) | Should -HaveCount 26
        ($baseline | Format-List | Out-String) | Should -Match 'Products\s*:\s*26'
    }

    It 'refuses to overwrite a file without -Force, and -WhatIf writes nothing' {
        $path = Join-Path $script:Folder 'kept.json'
        Set-Content -LiteralPath $path -Value 'mine'
        { Export-MSCommerceBaseline -Path $path } | Should -Throw -ErrorId 'MSCommerce.FileExists,Export-MSCommerceBaseline'
        Get-Content -LiteralPath $path | Should -Be 'mine'
        Export-MSCommerceBaseline -Path $path -Force -WhatIf
        Get-Content -LiteralPath $path | Should -Be 'mine'
        $whatIf = Join-Path $script:Folder 'whatif.json'
        Export-MSCommerceBaseline -Path $whatIf -WhatIf
        Test-Path -LiteralPath $whatIf | Should -BeFalse
        Export-MSCommerceBaseline -Path $path -Force
        (Get-Content -LiteralPath $path -Raw | ConvertFrom-Json).PolicyId | Should -Be 'AllowSelfServicePurchase'
    }

    It 'completes -OtherProducts' {
        $line = 'Export-MSCommerceBaseline -Path x.json -OtherProducts Di'
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        @($completion.CompletionMatches | ForEach-Object { $_.CompletionText }) | Should -Be @('Disabled')
    }
}

Describe 'Export, test, drift, sync' {
    BeforeEach {
        Reset-Emulator
        $script:Path = Join-Path $script:Folder ('guard-{0}.json' -f [guid]::NewGuid())
        Export-MSCommerceBaseline -Path $script:Path -OtherProducts Disabled
    }

    It 'finds no drift right after the export, then exactly what changed behind its back, and sync repairs it with as many writes' {
        @(Test-MSCommerceBaseline -Path $script:Path) | Should -HaveCount 0
        Test-MSCommerceBaseline -Path $script:Path -Quiet | Should -BeTrue
        $ids = Get-ProductIds
        foreach ($id in $ids[0..2]) {
            Set-ProductBehindTheBack -ProductId $id -Value 'Disabled'
        }
        Set-ProductBehindTheBack -ProductId 'CFQ7TTC0NEW1' -Name 'A product Microsoft added'

        $drift = @(Test-MSCommerceBaseline -Path $script:Path)
        $drift | Should -HaveCount 4
        $drift[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.BaselineDrift'
        @($drift | Where-Object Reason -eq 'Differs' | ForEach-Object { $_.ProductId }) | Should -Be $ids[0..2]
        @($drift | Where-Object Reason -eq 'Differs' | ForEach-Object { "$($_.Expected) $($_.Actual)" } | Select-Object -Unique) | Should -Be 'Enabled Disabled'
        $new = $drift | Where-Object Reason -eq 'NotInBaseline'
        $new.ProductId | Should -Be 'CFQ7TTC0NEW1'
        $new.Expected | Should -Be 'Disabled'
        $new.Actual | Should -Be 'Enabled'
        Test-MSCommerceBaseline -Path $script:Path -Quiet | Should -BeFalse
        ($drift | Format-Table | Out-String -Width 200) | Should -Match 'ProductId\s+ProductName\s+Expected\s+Actual\s+Reason'

        $before = (Get-EmulatorStats).updates
        $results = @(Sync-MSCommerceBaseline -Path $script:Path -ThrottleLimit 2)
        (Get-EmulatorStats).updates - $before | Should -Be 4
        (Get-EmulatorStats).peakInFlight | Should -BeLessOrEqual 2
        $results | Should -HaveCount 27
        $results[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.ProductPolicy'
        $updated = @($results | Where-Object Status -eq 'Updated')
        @($updated | ForEach-Object { $_.ProductId }) | Should -Be (@($ids[0..2]) + 'CFQ7TTC0NEW1')
        ($updated | Where-Object ProductId -eq 'CFQ7TTC0NEW1').PreviousValue | Should -Be 'Enabled'
        ($updated | Where-Object ProductId -eq 'CFQ7TTC0NEW1').PolicyValue | Should -Be 'Disabled'
        @(Test-MSCommerceBaseline -Path $script:Path) | Should -HaveCount 0
        $again = @(Sync-MSCommerceBaseline -Path $script:Path)
        @($again | Where-Object Status -ne 'Unchanged') | Should -HaveCount 0
        (Get-EmulatorStats).updates - $before | Should -Be 4
    }

    It 'OtherProducts Keep: a product the file does not name is no drift and is left alone' {
        $keep = Join-Path $script:Folder 'keep.json'
        Export-MSCommerceBaseline -Path $keep -Force
        Set-ProductBehindTheBack -ProductId 'CFQ7TTC0NEW2'
        @(Test-MSCommerceBaseline -Path $keep) | Should -HaveCount 0
        $results = @(Sync-MSCommerceBaseline -Path $keep)
        $results.ProductId | Should -Not -Contain 'CFQ7TTC0NEW2'
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It 'a product of the file the tenant no longer has: NotInTenant, and sync reports it as an error without stopping the rest' {
        $ids = Get-ProductIds
        $null = Invoke-Emulator -Method Delete -Path "/_emulator/products/$($ids[5])"
        Set-ProductBehindTheBack -ProductId $ids[6] -Value 'Disabled'
        $drift = @(Test-MSCommerceBaseline -Path $script:Path)
        $drift | Should -HaveCount 2
        $gone = $drift | Where-Object Reason -eq 'NotInTenant'
        $gone.ProductId | Should -Be $ids[5]
        $gone.Actual | Should -BeNullOrEmpty
        $failures = $null
        $results = @(Sync-MSCommerceBaseline -Path $script:Path -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures | Should -HaveCount 1
        $failures[0].TargetObject | Should -Be $ids[5]
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.NotFound,*'
        @($results | Where-Object Status -eq 'Updated' | ForEach-Object { $_.ProductId }) | Should -Be @($ids[6])
        (Get-EmulatorStats).updates | Should -Be 1
    }

    It '-Confirm asks for each product that would change; only the confirmed ones are written, the others reported as before' {
        $ids = Get-ProductIds
        Set-ProductBehindTheBack -ProductId $ids[0] -Value 'Disabled'
        Set-ProductBehindTheBack -ProductId 'CFQ7TTC0NEW5'
        $path = $script:Path.Replace("'", "''")
        # Answers: yes for the first product that would change, no for the new one.
        $run = Invoke-ModuleProcess -Interactive -InputText ("Sync-MSCommerceBaseline -Path '$path' -Confirm | ForEach-Object { ""result `$(`$_.ProductId) `$(`$_.Status)"" }`nY`nN")
        $text = $run.Output -join "`n"
        $results = @([regex]::Matches($text, 'result (\S+) (\S+)') | ForEach-Object { "$($_.Groups[1].Value) $($_.Groups[2].Value)" })
        $results | Should -HaveCount 26 -Because $text
        $results[0] | Should -Be "$($ids[0]) Updated"
        @($results | Where-Object { $_ -like '* Unchanged' }) | Should -HaveCount 25
        $results | Should -Not -Contain 'CFQ7TTC0NEW5 Updated'
        (Get-EmulatorStats).updates | Should -Be 1
        @(Test-MSCommerceBaseline -Path $script:Path | ForEach-Object { $_.ProductId }) | Should -Be @('CFQ7TTC0NEW5')
    }

    It '-WhatIf lists each product that would change and writes nothing; -ThrottleLimit is checked' {
        Set-ProductBehindTheBack -ProductId 'CFQ7TTC0NEW3'
        $path = $script:Path.Replace("'", "''")
        $run = Invoke-ModuleProcess -InputText "Sync-MSCommerceBaseline -Path '$path' -WhatIf; 'done'"
        $text = $run.Output -join "`n"
        @($run.Output | Where-Object { $_ -like 'What if:*' }) | Should -HaveCount 1 -Because $text
        $text | Should -Match "What if: .*from 'Enabled' to 'Disabled'.*product 'CFQ7TTC0NEW3'"
        (Get-EmulatorStats).updates | Should -Be 0
        { Sync-MSCommerceBaseline -Path $script:Path -ThrottleLimit 65 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }
}

Describe 'Baseline files that cannot be used' {
    BeforeEach {
        Reset-Emulator
    }

    It 'a misspelt property is a terminating InvalidArgument error naming the file and the property; nothing is written' {
        $path = Join-Path $script:Folder 'typo.json'
        Set-Content -LiteralPath $path -Value '{"PolicyId": "AllowSelfServicePurchase", "Products": [], "OtherProduct": "Disabled"}'
        foreach ($command in @('Test-MSCommerceBaseline', 'Sync-MSCommerceBaseline')) {
            $caught = $null
            try {
                & $command -Path $path -ErrorAction SilentlyContinue
            }
            catch {
                $caught = $_
            }
            $caught | Should -Not -BeNullOrEmpty -Because "$command ends"
            $caught.FullyQualifiedErrorId | Should -Be "MSCommerce.InvalidArgument,$command"
            $caught.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $caught.TargetObject | Should -Be $path
            $caught.Exception.Message | Should -Match ([regex]::Escape("Baseline file '$path'") + '.*OtherProduct')
        }
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It 'not JSON, or a file that does not exist, ends the command with its ErrorId' {
        $path = Join-Path $script:Folder 'broken.json'
        Set-Content -LiteralPath $path -Value '{"PolicyId": '
        { Test-MSCommerceBaseline -Path $path } | Should -Throw -ErrorId 'MSCommerce.InvalidArgument,Test-MSCommerceBaseline'
        { Sync-MSCommerceBaseline -Path (Join-Path $script:Folder 'missing.json') } | Should -Throw -ErrorId 'MSCommerce.FileNotFound,Sync-MSCommerceBaseline'
        { Test-MSCommerceBaseline -Path $script:Folder } | Should -Throw -ErrorId 'MSCommerce.FileAccess,Test-MSCommerceBaseline'
    }
}

Describe 'Baseline cmdlets under the caller''s preferences and strict mode' {
    BeforeEach {
        Reset-Emulator
    }

    It 'work under a global Set-StrictMode -Version Latest, and $ErrorActionPreference = ''Stop'' catches a bad file' {
        $file = (Join-Path $script:Folder 'strict.json').Replace("'", "''")
        $result = Invoke-CallerScript -GlobalScope -Script ("`$file = '$file'`n" + @'
Set-StrictMode -Version Latest
Export-MSCommerceBaseline -Path $file -OtherProducts Disabled -Force
$drift = @(Test-MSCommerceBaseline -Path $file)
$results = @(Sync-MSCommerceBaseline -Path $file)
$ErrorActionPreference = 'Stop'
try { Test-MSCommerceBaseline -Path "$file.missing"; 'not caught' } catch { "caught $($_.FullyQualifiedErrorId)" }
"$($drift.Count) $($results.Count) $($results[0].Status)"
'@)
        $result.Terminating | Should -BeNullOrEmpty
        $result.Output | Should -Be @('caught MSCommerce.FileNotFound,Test-MSCommerceBaseline', '0 26 Unchanged')
    }

    It '$WhatIfPreference = $true in a script makes Sync a dry run and Export write no file' {
        $file = Join-Path $script:Folder 'dry.json'
        Export-MSCommerceBaseline -Path $file -OtherProducts Disabled -Force
        Set-ProductBehindTheBack -ProductId 'CFQ7TTC0NEW4'
        $quoted = $file.Replace("'", "''")
        $result = Invoke-CallerScript -Script ("`$file = '$quoted'`n" + @'
$WhatIfPreference = $true
Sync-MSCommerceBaseline -Path $file
Export-MSCommerceBaseline -Path "$file.new"
'@)
        $result.Output | Should -HaveCount 0
        $result.Errors | Should -HaveCount 0
        (Get-EmulatorStats).updates | Should -Be 0
        Test-Path -LiteralPath "$file.new" | Should -BeFalse
    }
}
