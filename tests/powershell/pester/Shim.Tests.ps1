#Requires -Version 5.1
# The two import-time helpers of the C# shim (src/MSCommerce.Native.cs): the JSON writer of the
# session options and the environment snapshot. They replace PowerShell code that cost ~0.2 s of JIT
# at import (benches/module-import.sh), so they must give what that code gave.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
    Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
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
