#Requires -Version 5.1
# Pester 5 tests of the MSCommerce module against the embedded emulator (`mscommerce emulator`).
# They run wherever PowerShell (pwsh or Windows PowerShell 5.1) and Pester 5 exist:
#
#   cargo build --release
#   Invoke-Pester -Path tests/powershell/pester -Output Detailed
#
# The native library and the emulator binary are taken from target/release (or $env:CARGO_TARGET_DIR),
# or from $env:MSCOMMERCE_TEST_LIBRARY and $env:MSCOMMERCE_TEST_BIN.

BeforeDiscovery {
    $script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../../..')).Path
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'The module' {
    It 'has a valid manifest for PowerShell 5.1, Desktop and Core' {
        $manifest = Test-ModuleManifest -Path $script:ManifestPath
        $manifest.Version | Should -Be ([version]'4.0.0')
        $manifest.PowerShellVersion | Should -Be ([version]'5.1')
        $manifest.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
    }

    It 'exports exactly the cmdlets of cmdlets.md and the baseline cmdlets' {
        $names = (Get-Command -Module MSCommerce).Name | Sort-Object
        $names | Should -Be @(
            'Connect-MSCommerce', 'Disconnect-MSCommerce', 'Export-MSCommerceBaseline', 'Get-MSCommerceConnectionInfo',
            'Get-MSCommercePolicies', 'Get-MSCommercePolicy', 'Get-MSCommerceProductPolicies',
            'Get-MSCommerceProductPolicy', 'Sync-MSCommerceBaseline', 'Test-MSCommerceBaseline', 'Update-MSCommerceProductPolicy')
        Get-Command -Name Invoke-MSCommerceNative -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'binds -ProductId as string[] from the pipeline by property name' {
        $parameter = (Get-Command Update-MSCommerceProductPolicy).Parameters['ProductId']
        $parameter.ParameterType | Should -Be ([string[]])
        $parameter.ParameterSets['Enum'].ValueFromPipelineByPropertyName | Should -BeTrue
        (Get-Command Update-MSCommerceProductPolicy).Parameters['PolicyId'].ParameterSets['__AllParameterSets'].ValueFromPipelineByPropertyName | Should -BeTrue
    }

    It 'keeps the published positions of Connect-MSCommerce' {
        $command = Get-Command Connect-MSCommerce
        $command.DefaultParameterSet | Should -Be 'Interactive'
        $command.Parameters['ClientId'].ParameterSets['Interactive'].Position | Should -Be 0
        $command.Parameters['RedirectUri'].ParameterSets['Interactive'].Position | Should -Be 1
        $command.Parameters['Resource'].ParameterSets['Interactive'].Position | Should -Be 2
        $command.Parameters['Credential'].Aliases | Should -Contain 'AdminAccount'
    }

    It 'imports without leaving errors in $Error (Windows PowerShell 5.1 has no $IsWindows)' {
        $Error.Clear()
        Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
        $Error.Count | Should -Be 0
    }

    It 'resolves a relative MSCOMMERCE_NATIVE_LIBRARY against the current location' {
        $saved = $env:MSCOMMERCE_NATIVE_LIBRARY
        Push-Location -LiteralPath (Split-Path -Parent $script:Library)
        try {
            # .NET resolves a relative path against the process's directory, which Set-Location
            # does not change; the module resolves it against $PWD.
            $env:MSCOMMERCE_NATIVE_LIBRARY = Split-Path -Leaf $script:Library
            Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop -WarningVariable warnings -WarningAction SilentlyContinue
            Get-Module -Name MSCommerce | Should -Not -BeNullOrEmpty
            $warnings | Should -BeNullOrEmpty
        }
        finally {
            $env:MSCOMMERCE_NATIVE_LIBRARY = $saved
            Pop-Location
        }
    }

    It 'has help with the seed examples' {
        $examples = (Get-Help Update-MSCommerceProductPolicy -Examples).Examples.Example.Code -join "`n"
        $examples | Should -Match ([regex]::Escape('Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $True'))
        (Get-Help Connect-MSCommerce).Synopsis | Should -Not -BeNullOrEmpty
    }
}

Describe 'Not connected' {
    BeforeAll {
        Disconnect-MSCommerce
    }

    It 'throws the published NotConnected error' {
        $failure = $null
        try {
            Get-MSCommerceProductPolicies -PolicyId $script:Policy
        }
        catch {
            $failure = $_
        }
        $failure | Should -Not -BeNullOrEmpty
        $failure.FullyQualifiedErrorId | Should -BeLike 'MSCommerce.NotConnected*'
        $failure.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $failure.Exception.Message | Should -BeLike "*$($script:NotConnectedMessage)*"
    }

    It 'works without Connect-MSCommerce when -Token is given' {
        $result = Get-MSCommerceProductPolicy -PolicyId $script:Policy -ProductId CFQ7TTC0KP0N -Token (Get-EmulatorToken -User reader)
        $result.ProductName | Should -Be 'Power Automate per user'
    }
}

Describe 'The seed article''s commands' {
    BeforeAll {
        Reset-Emulator
        Connect-AsUser -User admin
    }

    It 'Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase' {
        $policy = Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase
        $policy.PolicyId | Should -Be 'AllowSelfServicePurchase'
        $policy.DefaultValue | Should -Not -BeNullOrEmpty
        $policy.PSObject.TypeNames[0] | Should -Be 'MSCommerce.Policy'
    }

    It 'Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase' {
        $products = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase)
        $products.Count | Should -Be 12
        $products.ProductId | Should -Contain 'CFQ7TTC0KP0N'
        $products[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.ProductPolicy'
        @($products | Where-Object { $_ -is [string] }).Count | Should -Be 0
    }

    It 'shows the table in the published column order' {
        $text = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Out-String -Width 250
        $header = ($text -split "`r?`n" | Where-Object { $_ -match '\S' })[0]
        ($header.Trim() -split '\s+') | Should -Be @('PolicyValue', 'ProductId', 'PolicyId', 'ProductName')
        # @(...): one matching line is a string, and indexing a string gives a [char].
        $row = @($text -split "`r?`n" | Where-Object { $_ -match 'CFQ7TTC0KP0N' })[0]
        $fields = $row.Trim() -split '\s+', 4
        $fields[1] | Should -Be 'CFQ7TTC0KP0N'
        $fields[3] | Should -Be 'Power Automate per user'
    }

    It 'gives product policy objects the published property order, for Export-Csv, Format-List, ConvertTo-Json and Select-Object *' {
        $published = @('PolicyValue', 'ProductId', 'PolicyId', 'ProductName')
        $listing = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase)
        $product = Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N
        foreach ($item in @($listing[0], $product)) {
            $item.PSObject.Properties.Name | Should -Be $published
            ($item | Select-Object -Property *).PSObject.Properties.Name | Should -Be $published
        }
        @($listing | ConvertTo-Csv -NoTypeInformation)[0] | Should -Be '"PolicyValue","ProductId","PolicyId","ProductName"'
        $product | ConvertTo-Json -Compress | Should -Match '^\{"PolicyValue":"Enabled","ProductId":"CFQ7TTC0KP0N","PolicyId":"AllowSelfServicePurchase","ProductName":"Power Automate per user"\}$'
        $labels = @(($product | Format-List | Out-String) -split "`r?`n" | Where-Object { $_ -match '^\S+\s*:' } | ForEach-Object { ($_ -split ':')[0].Trim() })
        $labels | Should -Be $published
    }

    It 'Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N' {
        $product = Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N
        $product.ProductName | Should -Be 'Power Automate per user'
        $product.PolicyValue | Should -Be 'Enabled'
    }

    It 'Update-MSCommerceProductPolicy ... -Enabled $False, then -Enabled $True' {
        $output = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $False 6> $null)
        $output.Count | Should -Be 1
        $output[0].PolicyValue | Should -Be 'Disabled'
        (Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N).PolicyValue | Should -Be 'Disabled'
        $output = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $True 6> $null)
        $output[0].PolicyValue | Should -Be 'Enabled'
    }
}

Describe 'The seed article''s example script' {
    BeforeAll {
        Reset-Emulator
    }

    It 'runs unchanged and disables both Power Automate products' {
        $script = @'
Import-Module -Name MSCommerce
Connect-MSCommerce #sign-in with your global or billing administrator account when prompted
$product = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | where {$_.ProductName -match 'Power Automate'}
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $product.ProductID -Enabled $false
'@
        # Connect-MSCommerce without parameters signs in in the browser; here the token of the
        # emulator's admin stands in for that, through the caller's default parameter values.
        $PSDefaultParameterValues['Connect-MSCommerce:AccessToken'] = Get-EmulatorToken -User admin
        $PSDefaultParameterValues['Connect-MSCommerce:ServiceUrl'] = $script:Emulator.Url
        $PSModulePathBefore = $env:PSModulePath
        try {
            $env:PSModulePath = $script:ModulePathEntry + [IO.Path]::PathSeparator + $env:PSModulePath
            $output = @(& ([scriptblock]::Create($script)) 6> $null)
        }
        finally {
            $env:PSModulePath = $PSModulePathBefore
            $PSDefaultParameterValues.Remove('Connect-MSCommerce:AccessToken')
            $PSDefaultParameterValues.Remove('Connect-MSCommerce:ServiceUrl')
        }
        $output.Count | Should -Be 2
        @($output | Where-Object { $_ -is [string] }).Count | Should -Be 0
        $automate = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object { $_.ProductName -match 'Power Automate' })
        $automate.Count | Should -Be 2
        $automate.PolicyValue | Should -Be @('Disabled', 'Disabled')
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object PolicyValue -eq 'Disabled').Count | Should -Be 2
    }
}

Describe 'Update-MSCommerceProductPolicy' {
    BeforeEach {
        Reset-Emulator
        Connect-AsUser -User admin
    }

    It 'changes nothing with -WhatIf' {
        $before = (Get-EmulatorStats).updates
        $output = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled -WhatIf)
        $output.Count | Should -Be 0
        (Get-EmulatorStats).updates | Should -Be $before
        (Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N).PolicyValue | Should -Be 'Enabled'
    }

    It 'takes the listing from the pipeline' {
        $output = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object { $_.ProductName -match 'Visio' } | Update-MSCommerceProductPolicy -Value Disabled)
        $output.Count | Should -Be 2
        $output.PolicyValue | Should -Be @('Disabled', 'Disabled')
        $output[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.ProductPolicy'
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object PolicyValue -eq 'Disabled').Count | Should -Be 2
    }

    It 'accepts several product ids' {
        $output = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXN9, CFQ7TTC0KXN8 -Value Disabled)
        $output.ProductId | Should -Be @('CFQ7TTC0KXN9', 'CFQ7TTC0KXN8')
    }

    It 'accepts -Enabled <Enabled>' -TestCases @(
        @{ Enabled = 'true'; Expected = 'Enabled' }
        @{ Enabled = 'FALSE'; Expected = 'Disabled' }
        @{ Enabled = $true; Expected = 'Enabled' }
        @{ Enabled = $false; Expected = 'Disabled' }
        @{ Enabled = 'False'; Expected = 'Disabled' }
    ) {
        param($Enabled, $Expected)
        (Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXG6 -Enabled $Enabled).PolicyValue | Should -Be $Expected
    }

    It 'refuses a garbage -Enabled with an InvalidArgument error for that product' {
        $errors = $null
        $output = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXG6 -Enabled 'maybe' -ErrorVariable errors -ErrorAction SilentlyContinue)
        $output.Count | Should -Be 0
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.InvalidArgument*'
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $errors[0].TargetObject | Should -Be 'CFQ7TTC0KXG6'
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It 'rejects a -Value outside the ValidateSet' {
        { Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXG6 -Value Sometimes } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'goes on after an error for one product' {
        $errors = $null
        $output = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0NOPE, CFQ7TTC0KXN9 -Value Disabled -ErrorVariable errors -ErrorAction SilentlyContinue)
        $output.Count | Should -Be 1
        $output[0].ProductId | Should -Be 'CFQ7TTC0KXN9'
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.NotFound*'
        $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errors[0].TargetObject | Should -Be 'CFQ7TTC0NOPE'
        # Several ids are one bulk change: its listing shows the id is unknown, no request is made
        # for it (so no HTTP status); the product that exists is written.
        $errors[0].Exception.Message | Should -Match "ProductId 'CFQ7TTC0NOPE': not in the tenant's product list"
        $output[0].Status | Should -Be 'Updated'
    }

    It 'names the HTTP status and correlation id of a failed single update' {
        $errors = $null
        $null = Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0NOPE -Value Disabled -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.Count | Should -Be 1
        $errors[0].TargetObject | Should -Be 'CFQ7TTC0NOPE'
        $errors[0].Exception.Message | Should -Match 'HTTP 404'
        $errors[0].Exception.Message | Should -Match '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
    }

    It 'shows the requests with -Verbose' {
        $verbose = @(Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })
        ($verbose.Message -join "`n") | Should -Match 'GET http.*/v1\.0/policies/AllowSelfServicePurchase/products/CFQ7TTC0KP0N'
    }
}

Describe 'Errors' {
    BeforeEach {
        Reset-Emulator
    }

    It 'a reader may read but gets PermissionDenied on update' {
        Connect-AsUser -User reader
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase).Count | Should -Be 12
        $errors = $null
        Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.Forbidden*'
        $errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $errors[0].TargetObject | Should -Be 'CFQ7TTC0KP0N'
        $errors[0].Exception.Message | Should -BeLike 'Failed to update product policy*'
        $errors[0].Exception.Message | Should -Match 'HTTP 403'
        $errors[0].Exception.Data['MSCommerce.correlationId'] | Should -Match '^[0-9a-f-]{36}$'
        $errors[0].Exception.Message | Should -Match ([regex]::Escape($errors[0].Exception.Data['MSCommerce.correlationId']))
    }

    It 'maps <Case> to <ErrorId> (<Category>)' -TestCases @(
        @{
            Case     = 'an unknown product'
            Faults   = $null
            Command  = { Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0NOPE }
            ErrorId  = 'MSCommerce.NotFound'
            Category = 'ObjectNotFound'
            Message  = "Failed to retrieve product policy with PolicyId 'AllowSelfServicePurchase' ProductId 'CFQ7TTC0NOPE'*HTTP 404*"
        }
        @{
            Case     = 'throttling'
            Faults   = @{ throttle = 10; retryAfterSeconds = 1 }
            Command  = { Get-MSCommercePolicies }
            ErrorId  = 'MSCommerce.Throttled'
            Category = 'LimitsExceeded'
            Message  = '*HTTP 429*'
        }
        @{
            Case     = 'a server error'
            Faults   = @{ serverErrors = 10; serverErrorStatus = 503 }
            Command  = { Get-MSCommercePolicies }
            ErrorId  = 'MSCommerce.Service'
            Category = 'NotSpecified'
            Message  = '*HTTP 503*'
        }
        @{
            Case     = 'an invalid id'
            Faults   = $null
            Command  = { Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId '../x' }
            ErrorId  = 'MSCommerce.InvalidArgument'
            Category = 'InvalidArgument'
            Message  = '*'
        }
    ) {
        param($Case, $Faults, $Command, $ErrorId, $Category, $Message)
        Connect-AsUser -User admin
        if ($null -ne $Faults) {
            $null = Invoke-Emulator -Path '/_emulator/faults' -Body $Faults
        }
        $errors = @()
        $output = @()
        & $Command 2>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) {
                $errors += $_
            }
            else {
                $output += $_
            }
        }
        $output.Count | Should -Be 0
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike "$ErrorId,*"
        $errors[0].CategoryInfo.Category | Should -Be $Category
        $errors[0].Exception.Message | Should -BeLike $Message
    }
}

Describe 'Connect-MSCommerce' {
    BeforeEach {
        Reset-Emulator
        Disconnect-MSCommerce
    }

    It 'signs in with an access token (string) and says so on the host only' {
        $output = @(Connect-MSCommerce -AccessToken (Get-EmulatorToken) -ServiceUrl $script:Emulator.Url -InformationVariable info 6> $null)
        $output.Count | Should -Be 0
        ($info.MessageData | ForEach-Object { "$_" }) | Should -Contain 'Connection established successfully'
        $connection = Get-MSCommerceConnectionInfo
        $connection.Account | Should -Be 'admin@contoso.onmicrosoft.com'
        $connection.PSObject.TypeNames[0] | Should -Be 'MSCommerce.Connection'
        # A local [datetime] on every edition (7's ConvertFrom-Json makes one, 5.1's leaves text).
        $connection.ExpiresOn | Should -BeOfType ([datetime])
        $connection.ExpiresOn | Should -BeGreaterThan (Get-Date)
        ($connection | Out-String) | Should -Not -Match 'eyJ'
    }

    It 'signs in with an access token (SecureString)' {
        $secure = ConvertTo-SecureString -String (Get-EmulatorToken -User billing) -AsPlainText -Force
        Connect-MSCommerce -AccessToken $secure -ServiceUrl $script:Emulator.Url 6> $null
        (Get-MSCommerceConnectionInfo).Account | Should -Be 'billing@contoso.onmicrosoft.com'
    }

    It 'signs in with -Credential (alias -AdminAccount)' {
        Skip-WithoutTls -Unproven 'the password sign-in (-Credential) over HTTPS on Windows (Windows.Tests.ps1 runs it over loopback HTTP)'
        $password = ConvertTo-SecureString -String 'Emulator-Admin-1' -AsPlainText -Force
        $credential = New-Object System.Management.Automation.PSCredential -ArgumentList 'admin@contoso.onmicrosoft.com', $password
        Connect-MSCommerce -AdminAccount $credential -TenantId $script:Tenant -ServiceUrl $script:TlsEmulator.Url -AuthorityHost $script:TlsEmulator.Url 6> $null
        (Get-MSCommerceConnectionInfo).Account | Should -Be 'admin@contoso.onmicrosoft.com'
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase).Count | Should -Be 12
    }

    It 'fails a wrong password with a terminating AuthenticationError' {
        Skip-WithoutTls -Unproven 'a refused password over HTTPS on Windows (Windows.Tests.ps1 runs it over loopback HTTP)'
        $password = ConvertTo-SecureString -String 'wrong' -AsPlainText -Force
        $credential = New-Object System.Management.Automation.PSCredential -ArgumentList 'admin@contoso.onmicrosoft.com', $password
        { Connect-MSCommerce -Credential $credential -TenantId $script:Tenant -ServiceUrl $script:TlsEmulator.Url -AuthorityHost $script:TlsEmulator.Url 6> $null } |
            Should -Throw -ErrorId 'MSCommerce.Authentication*'
    }

    It 'signs in as an app with -ClientSecretCredential' {
        Skip-WithoutTls -Unproven 'the app sign-in with a client secret on Windows (it needs HTTPS)'
        $secret = ConvertTo-SecureString -String $script:AppSecret -AsPlainText -Force
        $credential = New-Object System.Management.Automation.PSCredential -ArgumentList $script:AppClientId, $secret
        Connect-MSCommerce -TenantId $script:Tenant -ClientSecretCredential $credential -ServiceUrl $script:TlsEmulator.Url -AuthorityHost $script:TlsEmulator.Url 6> $null
        (Get-MSCommerceConnectionInfo).ClientId | Should -Be $script:AppClientId
        (Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $false).PolicyValue | Should -Be 'Disabled'
    }

    It 'signs in with a device code, showing the code on the host' {
        # The user enters the code elsewhere: here the emulator approves the latest code as admin
        # as soon as the module shows it.
        Mock -ModuleName MSCommerce Write-Host {
            if ("$Object" -match 'code') {
                $null = Invoke-Emulator -Path '/_emulator/device/approve' -Body @{ user = 'admin' }
            }
        }
        Connect-MSCommerce -UseDeviceCode -TenantId $script:Tenant -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url
        Should -Invoke -ModuleName MSCommerce Write-Host -ParameterFilter { "$Object" -match 'code' }
        Should -Invoke -ModuleName MSCommerce Write-Host -ParameterFilter { "$Object" -eq 'Connection established successfully' } -Times 1
        (Get-MSCommerceConnectionInfo).Account | Should -Be 'admin@contoso.onmicrosoft.com'
    }

    It 'signs in in the browser, opening the authorize URL with Start-Process' {
        # The emulator's browser is signed in as admin, so its authorize endpoint redirects at once
        # to the module's loopback redirect URI; fetching the URL plays the browser.
        $null = Invoke-Emulator -Path '/_emulator/browser' -Body @{ user = 'admin' }
        Mock -ModuleName MSCommerce Start-Process {
            $null = Invoke-WebRequest -Uri $FilePath -UseBasicParsing -MaximumRedirection 5
        }
        Connect-MSCommerce -LoginHint 'admin@contoso.onmicrosoft.com' -TenantId $script:Tenant -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null
        Should -Invoke -ModuleName MSCommerce Start-Process -Times 1 -ParameterFilter { $FilePath -like "$($script:Emulator.Url)/*authorize*" }
        (Get-MSCommerceConnectionInfo).Account | Should -Be 'admin@contoso.onmicrosoft.com'
    }

    It 'signs in with a managed identity' {
        # The native library reads IDENTITY_ENDPOINT and IDENTITY_HEADER from the process
        # environment. On Linux and macOS, .NET keeps $env: changes to itself (native code never
        # sees them; child processes do), so the sign-in runs in a child PowerShell that starts with
        # them, as on an Azure resource whose environment is set before PowerShell starts.
        $saved = @{ IDENTITY_ENDPOINT = $env:IDENTITY_ENDPOINT; IDENTITY_HEADER = $env:IDENTITY_HEADER }
        try {
            $env:IDENTITY_ENDPOINT = "$($script:Emulator.Url)/msi/token"
            $env:IDENTITY_HEADER = 'emulator-identity-header'
            # The pwsh this suite runs under: (Get-Process -Id $PID).Path is the dotnet host when
            # pwsh runs as `dotnet pwsh.dll` (the launcher of shared/tools/pwsh does).
            $powershell = Get-TestPowerShellPath
            $value = & $powershell -NoProfile -NonInteractive -Command {
                param($Manifest, $Url)
                Import-Module -Name $Manifest -ErrorAction Stop
                Connect-MSCommerce -Identity -ServiceUrl $Url -AuthorityHost $Url 6> $null
                (Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled).PolicyValue
            } -args $script:ManifestPath, $script:Emulator.Url
            $value | Should -Be 'Disabled'
        }
        finally {
            $env:IDENTITY_ENDPOINT = $saved.IDENTITY_ENDPOINT
            $env:IDENTITY_HEADER = $saved.IDENTITY_HEADER
        }
    }

    It 'signs in as an app with a certificate file (PFX and password)' {
        Skip-WithoutTls -Unproven 'the app sign-in with a PFX file on Windows (it needs HTTPS)'
        $material = Invoke-Emulator -Method Get -Path '/_emulator/certificate'
        $pfx = Join-Path ([System.IO.Path]::GetTempPath()) ("mscommerce-pester-{0}.pfx" -f [guid]::NewGuid())
        [System.IO.File]::WriteAllBytes($pfx, [Convert]::FromBase64String($material.pfxBase64))
        try {
            $password = ConvertTo-SecureString -String $material.pfxPassword -AsPlainText -Force
            Connect-MSCommerce -TenantId $script:Tenant -ClientId $material.clientId -CertificatePath $pfx -CertificatePassword $password -ServiceUrl $script:TlsEmulator.Url -AuthorityHost $script:TlsEmulator.Url 6> $null
            (Get-MSCommerceConnectionInfo).ClientId | Should -Be $material.clientId
            @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase).Count | Should -Be 12
        }
        finally {
            Remove-Item -LiteralPath $pfx -Force
        }
    }

    It 'signs in as an app with a certificate of the Windows store (thumbprint)' {
        $onWindows = Get-Variable -Name 'IsWindows' -ValueOnly -ErrorAction SilentlyContinue
        if ($null -ne $onWindows -and -not $onWindows) {
            Set-ItResult -Skipped -Because '-CertificateThumbprint reads the Windows certificate store'
            return
        }
        Skip-WithoutTls -Unproven 'the app sign-in with a certificate of the Windows store (it needs HTTPS)'
        $material = Invoke-Emulator -Method Get -Path '/_emulator/certificate'
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'PersistKeySet,UserKeySet'
        $certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([Convert]::FromBase64String($material.pfxBase64), $material.pfxPassword, $flags)
        $store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'My', 'CurrentUser'
        $store.Open('ReadWrite')
        $store.Add($certificate)
        # Closed at once: Windows writes an added certificate to the store there and then, Wine only
        # when the store is closed, and the library opens the store anew.
        $store.Close()
        try {
            $verbose = @(Connect-MSCommerce -TenantId $script:Tenant -ClientId $material.clientId -CertificateThumbprint $material.thumbprint -ServiceUrl $script:TlsEmulator.Url -AuthorityHost $script:TlsEmulator.Url -Verbose 4>&1 6> $null)
            ($verbose -join "`n") | Should -Match ('thumbprint ' + $material.thumbprint)
            (Get-MSCommerceConnectionInfo).ClientId | Should -Be $material.clientId
        }
        finally {
            $store.Open('ReadWrite')
            $store.Remove($certificate)
            $store.Close()
        }
    }

    It 'refuses an unknown -Environment before calling anything' {
        { Connect-MSCommerce -AccessToken 'x' -Environment 'Mars' } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'Disconnect-MSCommerce forgets the sign-in' {
        Connect-AsUser -User admin
        Disconnect-MSCommerce
        { Get-MSCommercePolicies } | Should -Throw -ErrorId 'MSCommerce.NotConnected*'
    }
}

Describe 'Tab completion' {
    BeforeAll {
        Reset-Emulator
        Connect-AsUser -User admin
        $null = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase
    }

    It 'completes -Value' {
        $line = 'Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId X -Value '
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $completions | Should -Contain 'OnlyTrialsWithoutPaymentMethod'
    }

    It 'completes -PolicyId' {
        $line = 'Get-MSCommerceProductPolicies -PolicyId Allow'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'AllowSelfServicePurchase'
    }

    It 'completes -ProductId from the last listing' {
        $line = 'Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP'
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $completions | Should -Contain 'CFQ7TTC0KP0N'
        $completions | Should -Contain 'CFQ7TTC0KP0P'
    }
}

Describe 'Remove-Module' {
    It 'frees the native session and imports again' {
        Remove-Module -Name MSCommerce -Force
        Get-Module -Name MSCommerce | Should -BeNullOrEmpty
        Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
        { Get-MSCommercePolicies } | Should -Throw -ErrorId 'MSCommerce.NotConnected*'
    }
}
