#Requires -Version 5.1
# The seed article's commands, typed exactly as the article shows them (tests/fixtures/seed-commands.md),
# typed one after another (on standard input, each line its own pipeline, as at a prompt) into a
# fresh PowerShell process against the emulator: Import-Module by name,
# Connect-MSCommerce with no parameters (the browser sign-in), the Get and Update commands, and the
# example script. The process finds the module through $env:PSModulePath and the emulator through
# MSCOMMERCE_SERVICE_URL/MSCOMMERCE_AUTHORITY_HOST; its browser is a stand-in that fetches the
# authorize URL as a signed-in browser: on Linux an xdg-open on PATH made here (.NET's shell execute
# starts xdg-open); under Wine the one of tests/windows/run-pester-wine.sh (MSCOMMERCE_TEST_BROWSER:
# Wine's shell hands the URL to winebrowser, which starts xdg-open from the Linux PATH).

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')

    # The article's PowerShell blocks, but those that install from or uninstall into the gallery.
    $fixture = Get-Content -LiteralPath (Join-Path $PSScriptRoot '../../fixtures/seed-commands.md') -Raw
    $blocks = [regex]::Matches($fixture, '```powershell\r?\n(.*?)\r?\n```', 'Singleline') | ForEach-Object { $_.Groups[1].Value }
    $script:SeedBlocks = @($blocks | Where-Object { $_ -notmatch '^(Install|Uninstall)-Module' })

    $script:OnLinux = [bool](Get-Variable -Name 'IsLinux' -ValueOnly -ErrorAction Ignore)
    $script:HasCurl = $null -ne (Get-Command -Name curl -CommandType Application -ErrorAction Ignore)
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'The seed article in a fresh PowerShell' {
    It 'has the article''s blocks' {
        $script:SeedBlocks.Count | Should -Be 8
        $script:SeedBlocks[1] | Should -Be 'Connect-MSCommerce'
    }

    It 'runs every command as typed, the browser sign-in included' {
        $environment = @{
            PSModulePath = $script:ModulePathEntry + [System.IO.Path]::PathSeparator + $env:PSModulePath
            NO_COLOR     = '1'
        }
        $work = $null
        if ($env:MSCOMMERCE_TEST_BROWSER -eq 'stand-in') {
            # The stand-in the environment provides (tests/windows/run-pester-wine.sh under Wine).
        }
        elseif ($script:OnLinux -and $script:HasCurl) {
            $work = Join-Path ([System.IO.Path]::GetTempPath()) ("mscommerce-seed-{0}" -f [guid]::NewGuid())
            $null = New-Item -ItemType Directory -Path $work
            $browser = Join-Path $work 'xdg-open'
            Set-Content -LiteralPath $browser -Value "#!/bin/sh`nexec curl --silent --show-error --location --max-redirs 5 --max-time 30 --output /dev/null `"`$1`"`n" -NoNewline
            [System.IO.File]::SetUnixFileMode($browser, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            $environment['PATH'] = $work + [System.IO.Path]::PathSeparator + $env:PATH
        }
        elseif ($script:OnLinux -or -not (Get-Variable -Name 'IsWindows' -ValueOnly -ErrorAction Ignore)) {
            Set-ItResult -Skipped -Because 'no stand-in browser: the xdg-open stand-in needs Linux and curl'
            return
        }
        else {
            Set-ItResult -Skipped -Because 'leaves unproven the seed article typed at a Windows prompt: no stand-in browser (on Windows Connect-MSCommerce opens the default browser, which is not signed in to the emulator; tests/windows/run-pester-wine.sh provides one under Wine)'
            return
        }
        Reset-Emulator
        $null = Invoke-Emulator -Path '/_emulator/browser' -Body @{ user = 'admin' }
        try {
            # Killed after 300 s: a browser that never comes would keep the sign-in waiting.
            $result = Invoke-TestPowerShell -InputText ($script:SeedBlocks -join "`n") -Environment $environment -TimeoutSeconds 300
        }
        finally {
            if ($work) {
                Remove-Item -LiteralPath $work -Recurse -Force
            }
        }
        $output = $result.Output
        $exitCode = $result.ExitCode
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
        # Enabled, disabled, then the script's two products as one bulk change, which does not write
        # CFQ7TTC0KP0N again (already Disabled).
        (Get-EmulatorStats).updates | Should -Be 3
    }
}
