#Requires -Version 5.1
# The seed article's commands, typed exactly as the article shows them (tests/fixtures/seed-commands.md),
# typed one after another (on standard input, each line its own pipeline, as at a prompt) into a
# fresh PowerShell process against the emulator: Import-Module by name,
# Connect-MSCommerce with no parameters (the browser sign-in), the Get and Update commands, and the
# example script. The process finds the module through $env:PSModulePath and the emulator through
# MSCOMMERCE_SERVICE_URL/MSCOMMERCE_AUTHORITY_HOST; its browser is a stand-in on PATH (xdg-open,
# which .NET's shell execute starts on Linux) that fetches the authorize URL as a signed-in browser.

BeforeDiscovery {
    $script:OnLinux = [bool](Get-Variable -Name 'IsLinux' -ValueOnly -ErrorAction Ignore)
    $script:HasCurl = $null -ne (Get-Command -Name curl -CommandType Application -ErrorAction Ignore)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')

    # The article's PowerShell blocks, but those that install from or uninstall into the gallery.
    $fixture = Get-Content -LiteralPath (Join-Path $PSScriptRoot '../../fixtures/seed-commands.md') -Raw
    $blocks = [regex]::Matches($fixture, '```powershell\r?\n(.*?)\r?\n```', 'Singleline') | ForEach-Object { $_.Groups[1].Value }
    $script:SeedBlocks = @($blocks | Where-Object { $_ -notmatch '^(Install|Uninstall)-Module' })
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'The seed article in a fresh PowerShell' {
    It 'has the article''s blocks' {
        $script:SeedBlocks.Count | Should -Be 8
        $script:SeedBlocks[1] | Should -Be 'Connect-MSCommerce'
    }

    It 'runs every command as typed, the browser sign-in included' -Skip:(-not ($script:OnLinux -and $script:HasCurl)) {
        Reset-Emulator
        $null = Invoke-Emulator -Path '/_emulator/browser' -Body @{ user = 'admin' }
        $work = Join-Path ([System.IO.Path]::GetTempPath()) ("mscommerce-seed-{0}" -f [guid]::NewGuid())
        $null = New-Item -ItemType Directory -Path $work
        $browser = Join-Path $work 'xdg-open'
        Set-Content -LiteralPath $browser -Value "#!/bin/sh`nexec curl --silent --show-error --location --max-redirs 5 --max-time 30 --output /dev/null `"`$1`"`n" -NoNewline
        [System.IO.File]::SetUnixFileMode($browser, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
        $saved = @{ PATH = $env:PATH; PSModulePath = $env:PSModulePath; NO_COLOR = $env:NO_COLOR }
        try {
            $env:PATH = $work + [System.IO.Path]::PathSeparator + $env:PATH
            $env:PSModulePath = (Split-Path -Parent (Split-Path -Parent $script:ManifestPath)) + [System.IO.Path]::PathSeparator + $env:PSModulePath
            $env:NO_COLOR = '1'
            $output = ($script:SeedBlocks -join "`n") | & (Get-TestPowerShellPath) -NoProfile -NonInteractive -Command '-' 2>&1 | ForEach-Object { "$_" }
            $exitCode = $LASTEXITCODE
        }
        finally {
            $env:PATH = $saved.PATH
            $env:PSModulePath = $saved.PSModulePath
            $env:NO_COLOR = $saved.NO_COLOR
            Remove-Item -LiteralPath $work -Recurse -Force
        }
        $text = $output -join "`n"
        $exitCode | Should -Be 0 -Because $text
        @($output | Where-Object { $_ -eq 'Connection established successfully' }) | Should -HaveCount 2 -Because $text
        $text | Should -Not -Match 'WARNING|Exception|error'
        $text | Should -Match 'PolicyValue\s+ProductId\s+PolicyId\s+ProductName'
        $text | Should -Match 'Power Automate per user'

        # Signed in twice in the browser, and what the commands changed is in the service.
        Connect-AsUser -User admin
        $products = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase)
        $disabled = @($products | Where-Object PolicyValue -eq 'Disabled' | ForEach-Object ProductName)
        $disabled | Should -HaveCount 2
        $disabled | Should -Contain 'Power Automate per user'
        $disabled | Should -Contain 'Power Automate RPA'
        (Get-EmulatorStats).updates | Should -Be 4
    }
}
