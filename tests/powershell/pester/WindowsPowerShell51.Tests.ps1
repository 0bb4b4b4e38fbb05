#Requires -Version 5.1
# Windows PowerShell 5.1 is the first target, and pwsh 7 accepts parameters that 5.1's cmdlets do
# not have. Every call of a built-in cmdlet in the module, and every parameter it passes, is checked
# against 5.1's documented syntax (tests/powershell/data/windows-powershell-5.1-cmdlets.json, from
# the PowerShell 5.1 reference: see its "about"), with PowerShell's own parser; and the browser
# sign-in runs against a Start-Process with exactly 5.1's parameters.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')

    $script:Cmdlets51 = (Get-Content -LiteralPath (Join-Path $PSScriptRoot '../data/windows-powershell-5.1-cmdlets.json') -Raw | ConvertFrom-Json).cmdlets
    $script:CommonParameters = @('Verbose', 'Debug', 'ErrorAction', 'WarningAction', 'InformationAction', 'ErrorVariable',
        'WarningVariable', 'InformationVariable', 'OutVariable', 'OutBuffer', 'PipelineVariable',
        'vb', 'db', 'ea', 'wa', 'infa', 'ev', 'wv', 'iv', 'ov', 'ob', 'pv')

    # The calls in $Ast of commands that are not functions defined in $Ast, that Windows PowerShell
    # 5.1 lacks, or that pass a parameter 5.1's cmdlet lacks (PowerShell accepts any unambiguous
    # prefix of a parameter name or alias). One line of text per finding.
    function Find-NotIn51 {
        param(
            [Parameter(Mandatory = $true)]
            [System.Management.Automation.Language.Ast[]] $Ast
        )
        $ownFunctions = @($Ast | ForEach-Object {
                $_.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true)
            } | ForEach-Object { $_.Name -replace '^script:', '' })
        foreach ($root in $Ast) {
            $commands = $root.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true)
            foreach ($command in $commands) {
                $name = $command.GetCommandName()
                $where = "$([System.IO.Path]::GetFileName($command.Extent.File)):$($command.Extent.StartLineNumber)"
                if ([string]::IsNullOrEmpty($name) -or $ownFunctions -contains $name) {
                    continue
                }
                $cmdlet = $script:Cmdlets51.PSObject.Properties[$name]
                if ($null -eq $cmdlet) {
                    "${where}: $name is not a Windows PowerShell 5.1 cmdlet"
                    continue
                }
                $names = @($cmdlet.Value.parameters) + @($cmdlet.Value.aliases.PSObject.Properties.Name) + $script:CommonParameters
                if ($cmdlet.Value.shouldProcess) {
                    $names += @('WhatIf', 'Confirm', 'wi', 'cf')
                }
                foreach ($parameter in @($command.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] })) {
                    $given = $parameter.ParameterName
                    if ($names -contains $given) {
                        continue
                    }
                    $matching = @($names | Where-Object { $_.StartsWith($given, [System.StringComparison]::OrdinalIgnoreCase) })
                    if ($matching.Count -ne 1) {
                        "${where}: $name -$given is not a parameter of Windows PowerShell 5.1's $name"
                    }
                }
            }
        }
    }

    function Get-ModuleAst {
        $root = Split-Path -Parent $script:ManifestPath
        foreach ($file in Get-ChildItem -LiteralPath $root -Recurse -File | Where-Object { $_.Extension -in '.ps1', '.psm1' }) {
            $tokens = $null
            $errors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref] $tokens, [ref] $errors)
            if ($errors.Count -gt 0) {
                throw "$($file.FullName) does not parse: $($errors[0])"
            }
            $ast
        }
    }
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'The module under Windows PowerShell 5.1''s cmdlets' {
    It 'calls only 5.1 cmdlets, with parameters 5.1 has' {
        $ast = @(Get-ModuleAst)
        $ast.Count | Should -BeGreaterThan 10
        $findings = @(Find-NotIn51 -Ast $ast)
        $findings -join "`n" | Should -BeNullOrEmpty
    }

    It 'the check finds a 7-only parameter, a 7-only cmdlet and a wrong prefix' {
        $source = @'
function Test-It { Start-Process -FilePath x -WhatIf:$false -Confirm:$false; Join-String -InputObject 1; Write-Host -Obj a -No; Set-Variable -Name a -Value 1 -WhatIf:$false }
'@
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($source, [ref] $null, [ref] $null)
        $findings = @(Find-NotIn51 -Ast $ast)
        $findings | Should -HaveCount 3
        $findings -join "`n" | Should -Match 'Start-Process -WhatIf'
        $findings -join "`n" | Should -Match 'Start-Process -Confirm'
        $findings -join "`n" | Should -Match 'Join-String is not a Windows PowerShell 5.1 cmdlet'
    }
}

Describe 'Connect-MSCommerce with Windows PowerShell 5.1''s Start-Process' {
    BeforeAll {
        # A Start-Process with exactly 5.1's parameters (and aliases), in the module's scope, where it
        # shadows the cmdlet; it plays the browser (the emulator's browser is signed in as admin and
        # redirects at once to the module's loopback redirect URI).
        $definition = $script:Cmdlets51.'Start-Process'
        $switches = @('LoadUserProfile', 'NoNewWindow', 'PassThru', 'UseNewEnvironment', 'Wait')
        $parameters = foreach ($name in $definition.parameters) {
            $aliases = @($definition.aliases.PSObject.Properties | Where-Object { $_.Value -eq $name } | ForEach-Object { "'$($_.Name)'" })
            $alias = if ($aliases.Count -gt 0) { "[Alias($($aliases -join ', '))] " } else { '' }
            $position = if ($name -eq 'FilePath') { '[Parameter(Position = 0)] ' } elseif ($name -eq 'ArgumentList') { '[Parameter(Position = 1)] ' } else { '' }
            $type = if ($switches -contains $name) { '[switch]' } else { '[object]' }
            "$position$alias$type `$$name"
        }
        $script:StandIn = [scriptblock]::Create(@"
[CmdletBinding()]
param($($parameters -join ', '))
`$script:StartProcessCalls += ,`$FilePath
`$null = Invoke-WebRequest -Uri `$FilePath -UseBasicParsing -MaximumRedirection 5
"@)
        & (Get-Module MSCommerce) {
            param($StandIn)
            $script:StartProcessCalls = @()
            Set-Item -Path function:script:Start-Process -Value $StandIn
        } $script:StandIn
    }

    AfterAll {
        & (Get-Module MSCommerce) { Remove-Item -Path function:script:Start-Process }
    }

    It 'the stand-in has 5.1''s parameters only' {
        $parameters = & (Get-Module MSCommerce) { (Get-Command Start-Process).Parameters.Keys }
        $parameters | Should -Not -Contain 'WhatIf'
        $parameters | Should -Contain 'Verb'
    }

    It 'opens the browser and signs in (Connect-MSCommerce without parameters)' {
        Reset-Emulator
        Disconnect-MSCommerce
        $null = Invoke-Emulator -Path '/_emulator/browser' -Body @{ user = 'admin' }
        # A warning would mean the browser could not be started: the sign-in would then wait for
        # it. -WarningAction Stop turns that into a failure at once.
        Connect-MSCommerce -WarningAction Stop 6> $null
        $calls = & (Get-Module MSCommerce) { $script:StartProcessCalls }
        @($calls) | Should -HaveCount 1
        @($calls)[0] | Should -BeLike "$($script:Emulator.Url)/*authorize*"
        (Get-MSCommerceConnectionInfo).Account | Should -Be 'admin@contoso.onmicrosoft.com'
    }
}
