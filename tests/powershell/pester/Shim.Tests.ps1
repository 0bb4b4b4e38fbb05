#Requires -Version 5.1
# The two import-time helpers of the C# shim (src/MSCommerce.Native.cs): the JSON writer of the
# session options and the environment snapshot. They replace PowerShell code that cost ~0.2 s of JIT
# at import (benches/module-import.sh), so they must give what that code gave. And when the shim and
# the library load: the import only finds the library; the first call that needs it loads both.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
    Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
    # The shim loads at the first native call; these tests call it directly.
    $null = Get-MSCommercePolicies -Token (Get-EmulatorToken)

    function Invoke-FreshImport {
        # A new PowerShell process imports the module (the library named by $Library, the emulator
        # as the service), runs $Script and prints its lines.
        param([string] $Library, [string] $Script)
        $manifest = $script:ManifestPath.Replace("'", "''")
        $environment = @{
            MSCOMMERCE_NATIVE_LIBRARY = $Library
            MSCOMMERCE_SERVICE_URL    = $script:Emulator.Url
            MSCOMMERCE_AUTHORITY_HOST = $script:Emulator.Url
        }
        Invoke-TestPowerShell -TimeoutSeconds 180 -Environment $environment -InputText (
            "`$ErrorActionPreference = 'Stop'`n" +
            "try { Import-Module -Name '$manifest' } catch { 'import failed: ' + `$_.Exception.Message; exit 3 }`n" +
            "'imported, shim loaded: ' + (`$null -ne ('MSCommerce.Native.NativeMethods' -as [type]))`n" +
            $Script)
    }
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'The shim''s JSON writer' {
    It 'writes text that ConvertFrom-Json reads back unchanged, whatever the characters' {
        $text = "quote `" backslash \ slash / newline `n tab `t return `r nul-ish $([char]1) $([char]31) " +
            "accents é ü € emoji $([char]0xD83D)$([char]0xDE00) separators $([char]0x2028)$([char]0x2029) end"
        $values = [System.Collections.Generic.Dictionary[string, string]]::new([System.StringComparer]::Ordinal)
        $values['A'] = $text
        $values['B'] = 'second'
        $json = [MSCommerce.Native.Json]::Serialize(@{ text = $text; variables = $values })
        $json | Should -Not -Match '[\u0000-\u001f\u2028\u2029]'
        $back = ConvertFrom-Json -InputObject $json
        $back.text | Should -BeExactly $text
        $back.variables.A | Should -BeExactly $text
        $back.variables.B | Should -BeExactly 'second'
    }

    It 'writes numbers in the invariant culture, booleans, null and nested lists' {
        $saved = [System.Threading.Thread]::CurrentThread.CurrentCulture
        try {
            [System.Threading.Thread]::CurrentThread.CurrentCulture = [System.Globalization.CultureInfo]::GetCultureInfo('de-DE')
            $json = [MSCommerce.Native.Json]::Serialize([ordered]@{ d = 2.5; i = 30; b = $true; f = $false; n = $null; l = @(1, 'x', @{ k = 0.1 }) })
        }
        finally {
            [System.Threading.Thread]::CurrentThread.CurrentCulture = $saved
        }
        $json | Should -BeExactly '{"d":2.5,"i":30,"b":true,"f":false,"n":null,"l":[1,"x",{"k":0.1}]}'
    }

    It 'refuses what has no JSON form, naming the type, and nesting deeper than 16' {
        { [MSCommerce.Native.Json]::Serialize([double]::NaN) } | Should -Throw '*NaN*'
        { [MSCommerce.Native.Json]::Serialize(@{ when = [datetime]::UtcNow }) } | Should -Throw '*System.DateTime*'
        $deep = @{}
        $inner = $deep
        foreach ($level in 1..20) {
            $next = @{}
            $inner['x'] = $next
            $inner = $next
        }
        { [MSCommerce.Native.Json]::Serialize($deep) } | Should -Throw '*16 levels*'
    }
}

Describe 'The shim''s environment snapshot' {
    It 'takes the variables whose names match, in any case, with their values as $env: has them' {
        $saved = $env:MSCOMMERCE_SHIM_PROBE
        try {
            $env:MSCOMMERCE_SHIM_PROBE = "value with `"quotes`" and é"
            $snapshot = [MSCommerce.Native.ProcessEnvironment]::Snapshot('^MSCOMMERCE_SHIM_\w+$')
            $snapshot.Count | Should -Be 1
            $snapshot['MSCOMMERCE_SHIM_PROBE'] | Should -BeExactly "value with `"quotes`" and é"
            $lower = [MSCommerce.Native.ProcessEnvironment]::Snapshot('^mscommerce_shim_probe$')
            $lower.Keys | Should -Be @('MSCOMMERCE_SHIM_PROBE')
            [MSCommerce.Native.ProcessEnvironment]::Snapshot('^NO_SUCH_VARIABLE_\d+$').Count | Should -Be 0
        }
        finally {
            $env:MSCOMMERCE_SHIM_PROBE = $saved
        }
    }

    It 'keeps two variables that differ only in case apart where the OS does (Linux, macOS)' {
        $onWindows = $ExecutionContext.SessionState.PSVariable.GetValue('IsWindows')
        if ($null -eq $onWindows -or $onWindows) {
            Set-ItResult -Skipped -Because 'Windows has one variable per name in any case'
            return
        }
        try {
            [System.Environment]::SetEnvironmentVariable('MSCOMMERCE_CASE_PROBE', 'upper')
            [System.Environment]::SetEnvironmentVariable('mscommerce_case_probe', 'lower')
            $snapshot = [MSCommerce.Native.ProcessEnvironment]::Snapshot('^mscommerce_case_probe$')
            $snapshot.Count | Should -Be 2
            $snapshot['MSCOMMERCE_CASE_PROBE'] | Should -BeExactly 'upper'
            $snapshot['mscommerce_case_probe'] | Should -BeExactly 'lower'
        }
        finally {
            [System.Environment]::SetEnvironmentVariable('MSCOMMERCE_CASE_PROBE', $null)
            [System.Environment]::SetEnvironmentVariable('mscommerce_case_probe', $null)
        }
    }
}

Describe 'When the native library loads' {
    It 'loads at the first call, not at import, and the call works' {
        $token = Get-EmulatorToken
        $result = Invoke-FreshImport -Library $script:Library -Script (
            "`$n = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -Token '$token').Count`n" +
            "'after a call, shim loaded: ' + (`$null -ne ('MSCommerce.Native.NativeMethods' -as [type])) + ', products: ' + `$n")
        @($result.Output | Where-Object { $_ -like '*imported, shim loaded: False' }) | Should -HaveCount 1
        @($result.Output | Where-Object { $_ -like '*after a call, shim loaded: True, products: 12' }) | Should -HaveCount 1
        $result.ExitCode | Should -Be 0
    }

    It 'defines the public commands, their help and completers at import; the private code loads at the first call, into the module''s scope' {
        $token = Get-EmulatorToken
        $line = 'Update-MSCommerceProductPolicy -PolicyId '
        $result = Invoke-FreshImport -Library $script:Library -Script (
            "`$m = Get-Module MSCommerce`n" +
            "'at import: ' + (& `$m { `$script:MSCommercePrivateScriptsLoaded }) + ', private functions: ' + @(& `$m { Get-Command -Name Invoke-MSCommerceNative, ConvertFrom-MSCommerceAnswer -CommandType Function -ErrorAction SilentlyContinue }).Count`n" +
            "'commands: ' + @(Get-Command -Module MSCommerce).Count`n" +
            "'help: ' + (Get-Help -Name Update-MSCommerceProductPolicy).Synopsis`n" +
            "'completion: ' + ((TabExpansion2 -inputScript '$line' -cursorColumn $($line.Length)).CompletionMatches.CompletionText -join ',')`n" +
            "'before a call: ' + (& `$m { `$script:MSCommercePrivateScriptsLoaded })`n" +
            "`$n = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -Token '$token').Count`n" +
            "'after a call: ' + (& `$m { `$script:MSCommercePrivateScriptsLoaded }) + ', products: ' + `$n`n" +
            "'defined in: ' + (& `$m { (Get-Command -Name Invoke-MSCommerceNative -CommandType Function).Module.Name })`n" +
            "'visible outside: ' + (`$null -ne (Get-Command -Name Invoke-MSCommerceNative -ErrorAction SilentlyContinue))`n" +
            "'second call: ' + (Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Token '$token').ProductName")
        $text = $result.Output -join "`n"
        $result.ExitCode | Should -Be 0 -Because $text
        $expected = @(
            'at import: False, private functions: 0',
            'commands: 11',
            'help: Enables or disables a policy, such as self-service purchase, for one or more products.',
            'completion: AllowSelfServicePurchase',
            'before a call: False',
            'after a call: True, products: 12',
            'defined in: MSCommerce',
            'visible outside: False',
            'second call: Power Automate per user'
        )
        foreach ($line in $expected) {
            # The host's input echo may put terminal control sequences before a line.
            @($result.Output | Where-Object { $_.EndsWith($line) }) | Should -HaveCount 1 -Because $text
        }
    }

    It 'fails the import, naming the path, when the library is missing' {
        $missing = Join-Path ([System.IO.Path]::GetTempPath()) 'no-such-folder/libmscommerce-missing.so'
        $result = Invoke-FreshImport -Library $missing -Script "'not reached'"
        $result.ExitCode | Should -Be 3
        @($result.Output | Where-Object { $_ -like '*import failed: *native library for this platform*was not found at*libmscommerce-missing.so*MSCOMMERCE_NATIVE_LIBRARY*' }) | Should -HaveCount 1
        @($result.Output | Where-Object { $_ -like '*not reached*' }) | Should -HaveCount 0
    }

    It 'says the package ships no library for this platform, and how to build one, when it has none' {
        $copy = Join-Path ([System.IO.Path]::GetTempPath()) "mscommerce-no-runtime-$PID"
        $module = Join-Path $copy 'MSCommerce'
        $other = if ($script:RuntimeId -eq 'osx-arm64') { 'linux-x64' } else { 'osx-arm64' }
        try {
            $null = New-Item -ItemType Directory -Path $copy -Force
            Copy-Item -LiteralPath (Split-Path -Parent $script:ManifestPath) -Destination $module -Recurse
            Remove-Item -LiteralPath (Join-Path $module 'runtimes') -Recurse -Force -ErrorAction SilentlyContinue
            $null = New-Item -ItemType Directory -Path (Join-Path $module "runtimes/$other/native") -Force
            $manifest = (Join-Path $module 'MSCommerce.psd1').Replace("'", "''")
            $result = Invoke-TestPowerShell -TimeoutSeconds 180 -Environment @{ MSCOMMERCE_NATIVE_LIBRARY = $null } -InputText (
                "try { Import-Module -Name '$manifest' -ErrorAction Stop; 'imported' } catch { 'import failed: ' + `$_.Exception.Message }")
        }
        finally {
            Remove-Item -LiteralPath $copy -Recurse -Force -ErrorAction SilentlyContinue
        }
        $expected = "*import failed: *ships no library for $($script:RuntimeId) (it has: $other)*./build.sh*build.ps1*MSCOMMERCE_NATIVE_LIBRARY*"
        @($result.Output | Where-Object { $_ -like $expected }) | Should -HaveCount 1
        @($result.Output | Where-Object { $_ -like '*imported' }) | Should -HaveCount 0
    }

    It 'fails the first call with a clear terminating error when the file is not a library' {
        $bogus = Join-Path ([System.IO.Path]::GetTempPath()) "mscommerce-not-a-library-$PID.so"
        [System.IO.File]::WriteAllText($bogus, 'this is not a shared library')
        try {
            $result = Invoke-FreshImport -Library $bogus -Script (
                "try { Get-MSCommercePolicies -Token x; 'no error' } catch { 'call failed: ' + `$_.Exception.Message }")
        }
        finally {
            Remove-Item -LiteralPath $bogus -Force
        }
        @($result.Output | Where-Object { $_ -like '*imported, shim loaded: False' }) | Should -HaveCount 1
        @($result.Output | Where-Object { $_ -like "*call failed: MSCommerce: could not load the native library '$bogus'*" }) | Should -HaveCount 1
        @($result.Output | Where-Object { $_ -like '*no error*' }) | Should -HaveCount 0
    }
}
