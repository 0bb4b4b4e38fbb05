#Requires -Version 5.1
# Update-MSCommerceProductPolicy with several products (issue 10, item 3): one bulk change through
# the library's steps, against the emulator serving 40 generated products. The final state is read
# back and the writes the emulator saw are counted.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
    Set-EmulatorCatalogue -Catalogue 'generated:40'
    Connect-AsUser

    function Get-Values {
        # ProductId -> PolicyValue as the service has them now.
        $values = @{}
        foreach ($item in @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase)) {
            $values[$item.ProductId] = $item.PolicyValue
        }
        $values
    }
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'Update-MSCommerceProductPolicy with several products' {
    BeforeEach {
        Reset-Emulator
    }

    It 'locks every product down from the pipeline, then a rerun writes nothing' {
        $results = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled)
        $results | Should -HaveCount 40
        @($results | Where-Object Status -eq 'Updated') | Should -HaveCount 40
        @($results | Where-Object PreviousValue -eq 'Enabled') | Should -HaveCount 40
        $results[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.ProductPolicy'
        # The published properties first, in their order, so that old scripts keep working.
        @($results[0].PSObject.Properties.Name)[0..3] | Should -Be @('PolicyValue', 'ProductId', 'PolicyId', 'ProductName')
        @($results[0].PSObject.Properties.Name) | Should -Contain 'PreviousValue'
        (Get-EmulatorStats).updates | Should -Be 40
        $values = Get-Values
        @($values.Values | Where-Object { $_ -ne 'Disabled' }) | Should -HaveCount 0

        $again = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled)
        @($again | Where-Object Status -eq 'Unchanged') | Should -HaveCount 40
        (Get-EmulatorStats).updates | Should -Be 40
    }

    It 'keeps the default table of four columns and offers the Changes view' {
        $results = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00002 -Enabled $false)
        $table = ($results | Format-Table | Out-String -Width 200)
        $table | Should -Match 'PolicyValue\s+ProductId\s+PolicyId\s+ProductName'
        $table | Should -Not -Match 'PreviousValue'
        ($results | Format-Table -View Changes | Out-String -Width 200) | Should -Match 'ProductId\s+ProductName\s+PreviousValue\s+PolicyValue\s+Status'
    }

    It 'shows progress from the library''s Done and Total, and completes it' {
        Set-EmulatorFaults -Faults @{ latencyMs = 40 }
        $result = Invoke-CallerScript -Script @'
Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled -ThrottleLimit 2 | Out-Null
'@
        $result.Terminating | Should -BeNullOrEmpty
        $records = @($result.Progress)
        $records.Count | Should -BeGreaterThan 1
        @($records | Where-Object { $_.StatusDescription -match '^\d+ of 40 products' }).Count | Should -BeGreaterThan 0
        $records[-1].RecordType | Should -Be 'Completed'
    }

    It '-WhatIf lists every product that would change and writes nothing' {
        $null = Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00003 -Value Disabled
        $run = Invoke-ModuleProcess -InputText @'
$r = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled -WhatIf); "output: $($r.Count)"
'@
        $text = $run.Output -join "`n"
        $whatIf = @($run.Output | Where-Object { $_ -like 'What if:*' })
        $whatIf | Should -HaveCount 39 -Because $text
        $whatIf[0] | Should -Match "Set policy 'AllowSelfServicePurchase' from 'Enabled' to 'Disabled'.*product 'GENPROD00001'"
        $text | Should -Not -Match 'GENPROD00003'
        $text | Should -Match 'output: 0'
        (Get-EmulatorStats).updates | Should -Be 1
    }

    It 'escapes control characters of product names in the "What if:" lines' {
        $escape = [string][char]27
        $null = Invoke-Emulator -Path '/_emulator/products' -Body @{ productId = 'GENPROD00005'; productName = "Evil$escape]0;title$([char]7) name" }
        $run = Invoke-ModuleProcess -InputText (
            "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00005, GENPROD00006 -Value Disabled -WhatIf`n" +
            'Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00007 -Enabled $false -WhatIf')
        # One product alone: the text of always.
        @($run.Output | Where-Object { $_ -like "*Set policy 'AllowSelfServicePurchase' to Enabled = 'False'*product 'GENPROD00007'*" }) | Should -HaveCount 1 -Because ($run.Output -join "`n")
        $line = @($run.Output | Where-Object { $_ -like '*GENPROD00005*' })
        $line | Should -HaveCount 1 -Because ($run.Output -join "`n")
        $line[0].Contains('(Evil\x1b]0;title\x07 name)') | Should -BeTrue -Because $line[0]
        ($run.Output -join "`n").Contains($escape) | Should -BeFalse
    }

    It '-Confirm asks for each product that would change and writes only the confirmed ones' {
        # The child's host reads each answer from the line after the command: yes, no, yes. (Where
        # the questions go differs: standard output on Linux, the console on Windows.)
        $run = Invoke-ModuleProcess -Interactive -InputText @'
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00002, GENPROD00003 -Value Disabled -Confirm | ForEach-Object { "result $($_.ProductId) $($_.Status)" }
Y
N
Y
'@
        $text = $run.Output -join "`n"
        # (A result may follow the last prompt on its line.)
        @([regex]::Matches($text, 'result \S+ \S+') | ForEach-Object { $_.Value }) | Should -Be @('result GENPROD00001 Updated', 'result GENPROD00003 Updated') -Because $text
        $values = Get-Values
        $values['GENPROD00001'] | Should -Be 'Disabled'
        $values['GENPROD00002'] | Should -Be 'Enabled'
        $values['GENPROD00003'] | Should -Be 'Disabled'
        (Get-EmulatorStats).updates | Should -Be 2
    }

    It '-Confirm:$false writes everything even when the caller''s $ConfirmPreference asks' {
        $ConfirmPreference = 'Low'
        $results = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00002, GENPROD00003 -Value Disabled -Confirm:$false)
        $results | Should -HaveCount 3
        (Get-EmulatorStats).updates | Should -Be 3
    }

    It '-ThrottleLimit bounds the writes in flight and is checked (1 to 64)' {
        { Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00002 -Value Disabled -ThrottleLimit 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00002 -Value Disabled -ThrottleLimit 65 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        (Get-EmulatorStats).updates | Should -Be 0
        Set-EmulatorFaults -Faults @{ latencyMs = 30 }
        $results = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Select-Object -First 12 | Update-MSCommerceProductPolicy -Value Disabled -ThrottleLimit 2)
        $results | Should -HaveCount 12
        $stats = Get-EmulatorStats
        $stats.updates | Should -Be 12
        $stats.peakInFlight | Should -BeLessOrEqual 2
    }

    It 'a product that fails is one non-terminating error with its id as the target; the others are updated' {
        # The third write removes GENPROD00020 from the tenant before it is written.
        Set-EmulatorFaults -Faults @{ events = @(@{ afterWrites = 3; removeProduct = 'GENPROD00020' }) }
        $failures = $null
        $results = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled -ThrottleLimit 4 -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures | Should -HaveCount 1
        $failures[0].TargetObject | Should -Be 'GENPROD00020'
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.NotFound,*'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $results | Should -HaveCount 39
        @($results | Where-Object Status -eq 'Updated') | Should -HaveCount 39
        $results.ProductId | Should -Not -Contain 'GENPROD00020'
        (Get-EmulatorStats).updates | Should -Be 39
        @((Get-Values).Values | Where-Object { $_ -ne 'Disabled' }) | Should -HaveCount 0
    }

    It 'a malformed id is an error for that product alone; the others are updated' {
        $failures = $null
        $results = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, 'bad id!', GENPROD00002 -Value Disabled -ErrorVariable failures -ErrorAction SilentlyContinue)
        $failures | Should -HaveCount 1
        $failures[0].TargetObject | Should -Be 'bad id!'
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.InvalidArgument,*'
        @($results | ForEach-Object { "$($_.ProductId) $($_.Status)" }) | Should -Be @('GENPROD00001 Updated', 'GENPROD00002 Updated')
        (Get-EmulatorStats).updates | Should -Be 2
    }

    It 'a single product gives the object it always gave' {
        $result = Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001 -Value Disabled
        @($result.PSObject.Properties.Name) | Should -Be @('PolicyValue', 'ProductId', 'PolicyId', 'ProductName')
        $result = @(Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00002 | Update-MSCommerceProductPolicy -Value Disabled)
        $result | Should -HaveCount 1
        @($result[0].PSObject.Properties.Name) | Should -Not -Contain 'Status'
        (Get-EmulatorStats).updates | Should -Be 2
    }
}

Describe 'Stopping a bulk change (Ctrl+C)' {
    It 'cancels the job: no write after the stop, and the next bulk change in that runspace runs' {
        Reset-Emulator
        Set-EmulatorFaults -Faults @{ latencyMs = 100 }
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        try {
            $preamble = "Import-Module -Name `$args[0] -ErrorAction Stop; Connect-MSCommerce -AccessToken `$args[1] -ServiceUrl `$args[2] -AuthorityHost `$args[2] -InformationAction Ignore`n"
            $arguments = @($script:ManifestPath, (Get-EmulatorToken), $script:Emulator.Url)
            $first = [powershell]::Create()
            $first.Runspace = $runspace
            $null = $first.AddScript($preamble + 'Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled -ThrottleLimit 1')
            foreach ($argument in $arguments) {
                $null = $first.AddArgument($argument)
            }
            $async = $first.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ((Get-EmulatorStats).updates -lt 3 -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 50
            }
            $first.Stop()
            $first.Dispose()
            $written = (Get-EmulatorStats).updates
            $written | Should -BeGreaterOrEqual 3
            $written | Should -BeLessThan 40
            Start-Sleep -Milliseconds 600
            (Get-EmulatorStats).updates | Should -Be $written

            Set-EmulatorFaults -Faults @{}
            $second = [powershell]::Create()
            $second.Runspace = $runspace
            $null = $second.AddScript('Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled')
            $results = @($second.Invoke())
            @($second.Streams.Error) | Should -HaveCount 0
            $second.Dispose()
            @($results | Where-Object Status -eq 'Updated') | Should -HaveCount (40 - $written)
            @($results | Where-Object Status -eq 'Unchanged') | Should -HaveCount $written
        }
        finally {
            $runspace.Dispose()
        }
    }
}

Describe 'Bulk changes under the caller''s preferences and strict mode' {
    BeforeEach {
        Reset-Emulator
    }

    It '$ErrorActionPreference = ''Stop'': the failed product is caught after the others were written' {
        $result = Invoke-CallerScript -Script @'
$ErrorActionPreference = 'Stop'
try {
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00404, GENPROD00002 -Value Disabled | ForEach-Object { "out $($_.ProductId)" }
    'not caught'
}
catch {
    "caught $($_.FullyQualifiedErrorId) $($_.TargetObject)"
}
'@
        $result.Terminating | Should -BeNullOrEmpty
        [string]$result.Output[-1] | Should -BeLike 'caught MSCommerce.NotFound,* GENPROD00404'
        @($result.Output | Where-Object { "$_" -like 'out *' }) | Should -HaveCount 2
        (Get-EmulatorStats).updates | Should -Be 2
    }

    It '$WhatIfPreference = $true in a function makes its bulk change a dry run' {
        $result = Invoke-CallerScript -Script @'
function Invoke-DryRun {
    $WhatIfPreference = $true
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00002 -Value Disabled
}
Invoke-DryRun
'@
        $result.Output | Should -HaveCount 0
        $result.Errors | Should -HaveCount 0
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It 'works under a global Set-StrictMode -Version Latest' {
        $result = Invoke-CallerScript -GlobalScope -Script @'
Set-StrictMode -Version Latest
$results = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId GENPROD00001, GENPROD00002, GENPROD00404 -Value Disabled -ErrorAction SilentlyContinue -ErrorVariable failures)
"$($results.Count) $($results[0].Status) $($failures.Count) $($failures[0].TargetObject)"
'@
        $result.Terminating | Should -BeNullOrEmpty
        [string]$result.Output[0] | Should -Be '2 Updated 1 GENPROD00404'
    }
}
