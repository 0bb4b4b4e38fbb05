#Requires -Version 5.1
# The module behaves like a compiled cmdlet: it hears the preference variables of the script or
# function that calls it (not only the global ones) and works under the caller's Set-StrictMode.
# Each script runs in a runspace of its own, in a local scope (as a .ps1 file runs), so its
# preference variables are a caller's, not global ones, and its streams can be read one by one.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'Preference variables of the calling script' {
    BeforeEach {
        Reset-Emulator
    }

    It '$ErrorActionPreference = ''Stop'': the catch fires at the first error and the next change is not made' {
        $result = Invoke-CallerScript -Script @'
$ErrorActionPreference = 'Stop'
try {
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0NOPE -Value Disabled
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXN9 -Value Disabled
    'not caught'
}
catch {
    "caught $($_.FullyQualifiedErrorId)"
}
'@
        $result.Terminating | Should -BeNullOrEmpty
        $result.Output | Should -HaveCount 1
        [string]$result.Output[0] | Should -BeLike 'caught MSCommerce.NotFound*'
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It '$ErrorActionPreference = ''Stop'' set in a function stops that function' {
        $result = Invoke-CallerScript -Script @'
function Disable-Products {
    $ErrorActionPreference = 'Stop'
    Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0NOPE
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXN9 -Value Disabled
}
try { Disable-Products } catch { "caught $($_.FullyQualifiedErrorId)" }
'@
        [string]$result.Output[0] | Should -BeLike 'caught MSCommerce.NotFound*'
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It '$WhatIfPreference = $true makes a dry run, also through the pipeline' {
        $result = Invoke-CallerScript -Script @'
$WhatIfPreference = $true
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled
Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled
'@
        $result.Terminating | Should -BeNullOrEmpty
        $result.Errors | Should -HaveCount 0
        $result.Output | Should -HaveCount 0
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It '$WhatIfPreference = $true in a function makes that function''s changes a dry run' {
        $result = Invoke-CallerScript -Script @'
function Invoke-DryRun {
    $WhatIfPreference = $true
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled
}
Invoke-DryRun
'@
        $result.Output | Should -HaveCount 0
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It '-WhatIf:$false given to the cmdlet wins over the caller''s $WhatIfPreference' {
        $result = Invoke-CallerScript -Script @'
$WhatIfPreference = $true
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled -WhatIf:$false
'@
        $result.Output | Should -HaveCount 1
        (Get-EmulatorStats).updates | Should -Be 1
    }

    It '$ConfirmPreference = ''Low'' asks before a change (and a host that cannot ask changes nothing)' {
        $result = Invoke-CallerScript -Script @'
$ConfirmPreference = 'Low'
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled
'@
        # A runspace without a host cannot prompt: ShouldProcess fails instead of changing.
        $result.Output | Should -HaveCount 0
        ($result.Errors | ForEach-Object { "$_" }) -join "`n" | Should -Match 'ShouldProcess'
        (Get-EmulatorStats).updates | Should -Be 0
    }

    It '-Confirm:$false given to the cmdlet wins over the caller''s $ConfirmPreference' {
        $result = Invoke-CallerScript -Script @'
$ConfirmPreference = 'Low'
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled -Confirm:$false
'@
        $result.Terminating | Should -BeNullOrEmpty
        (Get-EmulatorStats).updates | Should -Be 1
    }

    It '$VerbosePreference = ''Continue'' shows each request' {
        $result = Invoke-CallerScript -Script @'
$VerbosePreference = 'Continue'
$null = Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N
'@
        ($result.Verbose.Message -join "`n") | Should -Match 'GET http.*/v1\.0/policies/AllowSelfServicePurchase/products/CFQ7TTC0KP0N'
    }

    It '$WarningPreference = ''SilentlyContinue'' hides the module''s warnings' {
        # A browser that cannot be started is a warning; here the stand-in plays the browser, then
        # fails, so the sign-in still completes.
        $null = Invoke-Emulator -Path '/_emulator/browser' -Body @{ user = 'admin' }
        $result = Invoke-CallerScript -Script @'
& (Get-Module MSCommerce) {
    function script:Start-Process {
        param([string] $FilePath)
        $null = Invoke-WebRequest -Uri $FilePath -UseBasicParsing -MaximumRedirection 5
        throw 'no browser here'
    }
}
$WarningPreference = 'SilentlyContinue'
Connect-MSCommerce -TenantId contoso.onmicrosoft.com 6> $null
(Get-MSCommerceConnectionInfo).Account
'@
        $result.Terminating | Should -BeNullOrEmpty
        $result.Output | Should -Be @('admin@contoso.onmicrosoft.com')
        $result.Warnings | Should -HaveCount 0
    }

    It '$InformationPreference = ''Ignore'' drops the host messages from the information stream' {
        $result = Invoke-CallerScript -Script @'
$InformationPreference = 'Ignore'
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled | Out-Null
Connect-MSCommerce -AccessToken $Token -ServiceUrl $Url
'@
        $result.Terminating | Should -BeNullOrEmpty
        @($result.Information | Where-Object { "$($_.MessageData)" -eq 'Connection established successfully' }) | Should -HaveCount 0
    }

    It '$ProgressPreference = ''SilentlyContinue'' shows no progress' {
        $result = Invoke-CallerScript -Script @'
$ProgressPreference = 'SilentlyContinue'
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXN9, CFQ7TTC0KXN8, CFQ7TTC0KXG6 -Value Disabled | Out-Null
'@
        $result.Terminating | Should -BeNullOrEmpty
        (Get-EmulatorStats).updates | Should -Be 3
        $result.Progress | Should -HaveCount 0
    }

    It 'shows progress for several products when the caller lets it' {
        $result = Invoke-CallerScript -Script @'
Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KXN9, CFQ7TTC0KXN8, CFQ7TTC0KXG6 -Value Disabled | Out-Null
'@
        $result.Progress.Count | Should -BeGreaterThan 0
    }
}

Describe 'Set-StrictMode of the caller' {
    BeforeEach {
        Reset-Emulator
    }

    It 'works under a global Set-StrictMode -Version Latest, errors and sign-in included' {
        $result = Invoke-CallerScript -GlobalScope -Script @'
Set-StrictMode -Version Latest
$products = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase)
$missing = Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0NOPE -ErrorAction SilentlyContinue -ErrorVariable failures
$updated = Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $false
$connection = Get-MSCommerceConnectionInfo
"$($products.Count) $($failures[0].FullyQualifiedErrorId) $($updated.PolicyValue) $($connection.Account)"
'@
        $result.Terminating | Should -BeNullOrEmpty
        $result.Output | Should -HaveCount 1
        [string]$result.Output[0] | Should -BeLike '12 MSCommerce.NotFound,* Disabled admin@contoso.onmicrosoft.com'
    }
}
