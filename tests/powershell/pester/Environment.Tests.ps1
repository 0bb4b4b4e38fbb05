#Requires -Version 5.1
# $env: changes made inside PowerShell reach the native library. On Linux and macOS .NET keeps them
# to itself (the library's own getenv never sees them), so the module passes what PowerShell sees of
# the variables the library reads at each session and connect; these tests set the variables only
# through $env:, after the module was imported.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')

    $script:ProxyEmulator = Start-TestEmulator -UrlVariable MSCOMMERCE_TEST_PROXY_EMULATOR_URL
    $script:VariableNames = @('HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER')
    $script:SavedVariables = @{}
    foreach ($name in $script:VariableNames) {
        $script:SavedVariables[$name] = [Environment]::GetEnvironmentVariable($name)
    }

    function Restore-Variables {
        foreach ($name in $script:VariableNames) {
            [Environment]::SetEnvironmentVariable($name, $script:SavedVariables[$name])
        }
    }

    # The token is fetched before a test sets proxy variables, so only the module's requests meet them.
    function Connect-WithToken {
        param([string] $Token)
        Connect-MSCommerce -AccessToken $Token -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null
    }

    function Get-RequestCount {
        param([string] $Url)
        (Invoke-RestMethod -Method Get -Uri "$Url/_emulator/stats" -NoProxy).requests
    }
}

AfterAll {
    Restore-Variables
    Stop-TestEmulator -Emulator $script:ProxyEmulator
    Stop-TestEnvironment
}

Describe 'Environment variables set with $env: after Import-Module' {
    BeforeEach {
        Reset-Emulator
        foreach ($name in $script:VariableNames) {
            [Environment]::SetEnvironmentVariable($name, $null)
        }
    }

    AfterEach {
        Restore-Variables
        Disconnect-MSCommerce
    }

    It '$env:HTTP_PROXY sends the requests through that proxy' {
        $token = Get-EmulatorToken
        $before = Get-RequestCount -Url $script:ProxyEmulator.Url
        $env:HTTP_PROXY = $script:ProxyEmulator.Url
        Connect-WithToken -Token $token
        # The proxy (another emulator) answers itself and refuses this emulator's token: that the
        # request reached it is what counts.
        try {
            $null = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase
        }
        catch {
            $_.FullyQualifiedErrorId | Should -BeLike 'MSCommerce.Authentication*'
        }
        (Get-RequestCount -Url $script:ProxyEmulator.Url) | Should -BeGreaterThan $before
        (Get-EmulatorStats).requests | Should -Be 0
    }

    It 'a proxy that refuses connections is a ConnectionError, not a silent bypass' {
        $token = Get-EmulatorToken
        $env:HTTP_PROXY = 'http://127.0.0.1:9'
        Connect-WithToken -Token $token
        $errors = $null
        $products = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -ErrorVariable errors -ErrorAction SilentlyContinue)
        $products | Should -HaveCount 0
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.Network*'
        (Get-EmulatorStats).requests | Should -Be 0
    }

    It '$env:NO_PROXY exempts a host from $env:HTTP_PROXY' {
        $token = Get-EmulatorToken
        $env:HTTP_PROXY = 'http://127.0.0.1:9'
        $env:NO_PROXY = '127.0.0.1'
        Connect-WithToken -Token $token
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase) | Should -HaveCount 12
    }

    It 'removing $env:HTTP_PROXY goes direct again at the next connect' {
        $token = Get-EmulatorToken
        $env:HTTP_PROXY = 'http://127.0.0.1:9'
        Connect-WithToken -Token $token
        Remove-Item -Path Env:HTTP_PROXY
        Connect-WithToken -Token $token
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase) | Should -HaveCount 12
    }

    It '$env:IDENTITY_ENDPOINT and $env:IDENTITY_HEADER serve a managed-identity sign-in in this process' {
        $env:IDENTITY_ENDPOINT = "$($script:Emulator.Url)/msi/token"
        $env:IDENTITY_HEADER = 'emulator-identity-header'
        Connect-MSCommerce -Identity -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null
        (Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled).PolicyValue | Should -Be 'Disabled'
    }
}
