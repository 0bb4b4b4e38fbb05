#Requires -Version 5.1
# The native session made at Import-Module takes what PowerShell sees of the library's variables
# (Private/Environment.ps1), like each connect does (Environment.Tests.ps1): a call with -Token and
# no Connect-MSCommerce runs on that session.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'The session made at import' {
    It 'hears $env:HTTP_PROXY set in this process before Import-Module' {
        Reset-Emulator
        $token = Get-EmulatorToken
        $saved = $env:HTTP_PROXY
        try {
            $env:HTTP_PROXY = 'http://127.0.0.1:9'
            Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
            $errors = $null
            $products = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -Token $token -ErrorVariable errors -ErrorAction SilentlyContinue)
            $products | Should -HaveCount 0
            $errors | Should -HaveCount 1
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'MSCommerce.Network*'
            (Get-EmulatorStats).requests | Should -Be 0
        }
        finally {
            $env:HTTP_PROXY = $saved
            Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
        }
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -Token $token) | Should -HaveCount 12
    }
}
