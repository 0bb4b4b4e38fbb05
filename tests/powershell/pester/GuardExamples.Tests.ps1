#Requires -Version 5.1
# examples/guard: the guard's ready-to-use examples (issue 10, item 4) stay runnable as the module
# changes. Each script parses; every MSCommerce command it calls is exported by the manifest (or is
# one of the three baseline cmdlets) and gets only parameters it has; the scripts that run under
# Windows PowerShell 5.1 call only 5.1's cmdlets (tests/powershell/data) and the ScheduledTasks
# module's, with no PowerShell 7 syntax; the example baseline has the format of
# docs/bulk-and-baselines.md section 3; the systemd units are what the README says. Then guard.ps1 and the
# runbook run against a stand-in MSCommerce module (no emulator, no native library): their exit
# codes, logs and output for a clean run, a failed product and a failed sign-in.

BeforeDiscovery {
    $script:ScriptCases = @(
        @{ Name = 'azure-automation-runbook.ps1'; Under51 = $false; CallsModule = $true },
        @{ Name = 'windows-scheduled-task.ps1'; Under51 = $true; CallsModule = $false },
        @{ Name = 'guard.ps1'; Under51 = $true; CallsModule = $true }
    )
    $script:Windows51Cases = @($script:ScriptCases | Where-Object { $_.Under51 })
}

BeforeAll {
    $repo = Split-Path -Parent (Split-Path -Parent (Split-Path -Parent $PSScriptRoot))
    $script:GuardFolder = Join-Path (Join-Path $repo 'examples') 'guard'
    $script:ModuleFolder = Join-Path (Join-Path $repo 'ps-module') 'MSCommerce'
    $script:Manifest = Import-PowerShellDataFile -LiteralPath (Join-Path $script:ModuleFolder 'MSCommerce.psd1')
    $script:Catalogue = Get-Content -LiteralPath (Join-Path (Join-Path $repo 'data') 'products.json') -Raw | ConvertFrom-Json

    $script:Common = @('Verbose', 'Debug', 'ErrorAction', 'WarningAction', 'InformationAction', 'ErrorVariable',
        'WarningVariable', 'InformationVariable', 'OutVariable', 'OutBuffer', 'PipelineVariable',
        'vb', 'db', 'ea', 'wa', 'infa', 'ev', 'wv', 'iv', 'ov', 'ob', 'pv')

    # The baseline cmdlets being added (issue 10): their parameters as specified, until their
    # Public/*.ps1 files exist (then those are read like the others).
    $script:BaselineCmdlets = @{
        'Export-MSCommerceBaseline' = @('PolicyId', 'Path', 'OtherProducts', 'Token')
        'Test-MSCommerceBaseline'   = @('Path', 'Token')
        'Sync-MSCommerceBaseline'   = @('Path', 'ThrottleLimit', 'Token', 'WhatIf', 'Confirm')
    }

    # The ScheduledTasks module (Windows 8 / Server 2012 and later; not in the 5.1 reference the
    # data file comes from): the parameters of its documented syntax.
    $cim = @('CimSession', 'ThrottleLimit', 'AsJob')
    $script:ScheduledTasks = @{
        'Register-ScheduledTask'       = @('Force', 'Password', 'User', 'TaskName', 'TaskPath', 'Action', 'Description',
            'Settings', 'Trigger', 'RunLevel', 'Xml', 'Principal', 'InputObject') + $cim
        'New-ScheduledTaskAction'      = @('Execute', 'Argument', 'WorkingDirectory', 'Id') + $cim
        'New-ScheduledTaskTrigger'     = @('Once', 'Daily', 'Weekly', 'AtStartup', 'AtLogOn', 'At', 'DaysInterval',
            'DaysOfWeek', 'WeeksInterval', 'RandomDelay', 'RepetitionInterval', 'RepetitionDuration', 'User')
        'New-ScheduledTaskSettingsSet' = @('DisallowDemandStart', 'DisallowHardTerminate', 'Compatibility',
            'DeleteExpiredTaskAfter', 'AllowStartIfOnBatteries', 'Disable', 'MaintenanceExclusive', 'Hidden',
            'RunOnlyIfIdle', 'IdleWaitTimeout', 'NetworkId', 'NetworkName', 'DisallowStartOnRemoteAppSession',
            'MaintenancePeriod', 'MaintenanceDeadline', 'StartWhenAvailable', 'DontStopIfGoingOnBatteries', 'WakeToRun',
            'IdleDuration', 'RestartOnIdle', 'DontStopOnIdleEnd', 'ExecutionTimeLimit', 'MultipleInstances', 'Priority',
            'RestartCount', 'RestartInterval', 'RunOnlyIfNetworkAvailable') + $cim
        'Start-ScheduledTask'          = @('TaskName', 'TaskPath', 'InputObject') + $cim
    }

    $script:Cmdlets51 = (Get-Content -LiteralPath (Join-Path $PSScriptRoot '../data/windows-powershell-5.1-cmdlets.json') -Raw | ConvertFrom-Json).cmdlets

    function Read-Script([string] $Name) {
        $tokens = $null
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile((Join-Path $script:GuardFolder $Name), [ref] $tokens, [ref] $errors)
        @{ Ast = $ast; Errors = @($errors) }
    }

    # The parameter names (and aliases) of a function of the module, from its Public/<Name>.ps1.
    function Get-ModuleParameter([string] $Name) {
        $file = Join-Path (Join-Path $script:ModuleFolder 'Public') "$Name.ps1"
        if (-not (Test-Path -LiteralPath $file)) {
            return $script:BaselineCmdlets[$Name]
        }
        $tokens = $null
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref] $tokens, [ref] $errors)
        $function = $ast.Find({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $node.Name -eq $Name }, $true)
        $block = $function.Body.ParamBlock
        $names = @()
        foreach ($parameter in $block.Parameters) {
            $names += $parameter.Name.VariablePath.UserPath
            foreach ($alias in @($parameter.Attributes | Where-Object { $_.TypeName.Name -eq 'Alias' })) {
                $names += @($alias.PositionalArguments | ForEach-Object { $_.SafeGetValue() })
            }
        }
        $shouldProcess = @($block.Attributes | Where-Object { $_.TypeName.Name -eq 'CmdletBinding' } |
                ForEach-Object { $_.NamedArguments } | Where-Object { $_.ArgumentName -eq 'SupportsShouldProcess' })
        if ($shouldProcess.Count -gt 0) {
            $names += @('WhatIf', 'Confirm')
        }
        $names
    }

    # The parameters a command takes, or $null when it is not known: MSCommerce commands always;
    # with -Windows51 also Windows PowerShell 5.1's cmdlets and the ScheduledTasks module's.
    function Get-KnownParameter([string] $Name, [switch] $Windows51) {
        if ($Name -match '^[A-Za-z]+-MSCommerce') {
            if ($script:Manifest.FunctionsToExport -contains $Name -or $script:BaselineCmdlets.ContainsKey($Name)) {
                return , @(Get-ModuleParameter $Name)
            }
            return $null
        }
        if (-not $Windows51) {
            return , @()
        }
        if ($script:ScheduledTasks.ContainsKey($Name)) {
            return , $script:ScheduledTasks[$Name]
        }
        $cmdlet = $script:Cmdlets51.PSObject.Properties[$Name]
        if ($null -eq $cmdlet) {
            return $null
        }
        $names = @($cmdlet.Value.parameters) + @($cmdlet.Value.aliases.PSObject.Properties.Name)
        if ($cmdlet.Value.shouldProcess) {
            $names += @('WhatIf', 'Confirm')
        }
        , $names
    }

    # One line per call of an unknown command, or of a parameter the command lacks (PowerShell
    # takes any unambiguous prefix of a name). Functions the script defines are its own.
    function Find-UnknownCall($Ast, [switch] $Windows51) {
        $own = @($Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true) | ForEach-Object { $_.Name })
        foreach ($command in $Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $command.GetCommandName()
            if ([string]::IsNullOrEmpty($name) -or $own -contains $name) {
                continue
            }
            $line = $command.Extent.StartLineNumber
            $known = Get-KnownParameter $name -Windows51:$Windows51
            if ($null -eq $known) {
                "line ${line}: $name is not known"
                continue
            }
            if ($known.Count -eq 0) {
                continue
            }
            $names = @($known) + $script:Common
            foreach ($given in @($command.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] })) {
                $match = @($names | Where-Object { $_ -eq $given.ParameterName })
                if ($match.Count -eq 0) {
                    $match = @($names | Where-Object { $_.StartsWith($given.ParameterName, [System.StringComparison]::OrdinalIgnoreCase) })
                }
                if ($match.Count -ne 1) {
                    "line ${line}: $name has no parameter -$($given.ParameterName)"
                }
            }
        }
    }

    # A folder holding a stand-in MSCommerce 4.0.0 (and Get-AutomationVariable): it records each call
    # in $env:GUARD_STUB_LOG and behaves as $env:GUARD_STUB says (clean, failed, signin).
    $script:StubRoot = Join-Path ([System.IO.Path]::GetTempPath()) ('mscommerce-guard-{0}' -f [guid]::NewGuid())
    $stubModule = Join-Path (Join-Path $script:StubRoot 'MSCommerce') '4.0.0'
    $null = New-Item -ItemType Directory -Path $stubModule -Force
    Set-Content -LiteralPath (Join-Path $stubModule 'MSCommerce.psd1') -Encoding UTF8 -Value "@{ ModuleVersion = '4.0.0'; GUID = 'cbaba3d7-3c4b-4a8b-91aa-72d1410cb00c'; RootModule = 'MSCommerce.psm1'; FunctionsToExport = '*' }"
    Set-Content -LiteralPath (Join-Path $stubModule 'MSCommerce.psm1') -Encoding UTF8 -Value @'
function Write-StubCall([string] $Text) { Add-Content -LiteralPath $env:GUARD_STUB_LOG -Value $Text -Encoding UTF8 }
function New-StubResult($Id, $Name, $Previous, $Value, $Status) {
    [pscustomobject]@{ PolicyValue = $Value; ProductId = $Id; PolicyId = 'AllowSelfServicePurchase'; ProductName = $Name; PreviousValue = $Previous; Status = $Status }
}
function Connect-MSCommerce {
    [CmdletBinding()]
    param([string] $TenantId, [string] $ClientId, [string] $CertificateThumbprint, [switch] $Identity)
    Write-StubCall ('Connect ' + (($PSBoundParameters.Keys | Sort-Object) -join ','))
    if ($env:GUARD_STUB -eq 'signin') { throw 'Connect-MSCommerce: AADSTS700027: the certificate is not registered for the app' }
}
function Disconnect-MSCommerce { [CmdletBinding()] param() Write-StubCall 'Disconnect' }
function Sync-MSCommerceBaseline {
    [CmdletBinding()]
    param([string] $Path)
    Write-StubCall ('Sync ' + ((Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json).OtherProducts))
    New-StubResult 'CFQ7TTC0RM8K' 'Teams Premium Introductory Pricing' 'Enabled' 'Disabled' 'Updated'
    New-StubResult 'CFQ7TTC0H9MP' 'Power BI Pro' 'Enabled' 'Enabled' 'Unchanged'
    if ($env:GUARD_STUB -eq 'failed') {
        New-StubResult 'CFQ7TTC0LH3L' 'Power Automate per user' 'Enabled' 'Enabled' 'Failed'
        Write-Error -Message 'too many requests, after retries' -TargetObject 'CFQ7TTC0LH3L' -ErrorId 'MSCommerce.Throttled'
    }
}
function Test-MSCommerceBaseline {
    [CmdletBinding()]
    param([string] $Path)
    Write-StubCall 'Test'
    if ($env:GUARD_STUB -eq 'failed') {
        [pscustomobject]@{ ProductId = 'CFQ7TTC0LH3L'; ProductName = 'Power Automate per user'; Expected = 'Disabled'; Actual = 'Enabled'; Reason = 'Differs' }
    }
}
function Get-AutomationVariable { param([string] $Name) Write-StubCall "Variable $Name"; $env:GUARD_STUB_VARIABLE }
'@

    # This PowerShell's executable in $PSHOME (the process itself may be `dotnet pwsh.dll`).
    $script:PowerShellExe = @(@('powershell.exe', 'pwsh.exe', 'pwsh') | ForEach-Object { Join-Path $PSHOME $_ } |
            Where-Object { Test-Path -LiteralPath $_ -PathType Leaf })[0]

    # Runs an example script in a new process of this PowerShell with the stand-in first in the
    # module path; answers the exit code, the output and the calls the stand-in saw.
    function Invoke-Example([string] $Name, [string] $Mode, [string[]] $Arguments) {
        $saved = @{ Path = $env:PSModulePath; Stub = $env:GUARD_STUB; Log = $env:GUARD_STUB_LOG; Variable = $env:GUARD_STUB_VARIABLE }
        $callLog = Join-Path $script:StubRoot ('calls-{0}.txt' -f [guid]::NewGuid())
        $env:PSModulePath = $script:StubRoot + [System.IO.Path]::PathSeparator + $env:PSModulePath
        $env:GUARD_STUB = $Mode
        $env:GUARD_STUB_LOG = $callLog
        $env:GUARD_STUB_VARIABLE = Get-Content -LiteralPath (Join-Path $script:GuardFolder 'baseline.example.json') -Raw
        try {
            $output = & $script:PowerShellExe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File (Join-Path $script:GuardFolder $Name) @Arguments 2>&1
            $code = $LASTEXITCODE
        }
        finally {
            $env:PSModulePath = $saved.Path
            $env:GUARD_STUB = $saved.Stub
            $env:GUARD_STUB_LOG = $saved.Log
            $env:GUARD_STUB_VARIABLE = $saved.Variable
        }
        $calls = @()
        if (Test-Path -LiteralPath $callLog) {
            $calls = @(Get-Content -LiteralPath $callLog)
        }
        @{ ExitCode = $code; Output = (@($output | ForEach-Object { "$_" }) -join "`n"); Calls = $calls }
    }

    function Invoke-Guard([string] $Mode, [string[]] $Extra = @()) {
        $log = Join-Path $script:StubRoot ('guard-{0}.log' -f [guid]::NewGuid())
        $arguments = @('-TenantId', 'contoso.onmicrosoft.com', '-ClientId', '11111111-2222-3333-4444-555555555555',
            '-CertificateThumbprint', '0123456789ABCDEF0123456789ABCDEF01234567',
            '-BaselinePath', (Join-Path $script:GuardFolder 'baseline.example.json'), '-LogPath', $log) + $Extra
        $result = Invoke-Example 'guard.ps1' $Mode $arguments
        $result.Log = ''
        if (Test-Path -LiteralPath $log) {
            $result.Log = Get-Content -LiteralPath $log -Raw
        }
        $result
    }
}

AfterAll {
    if ($script:StubRoot -and (Test-Path -LiteralPath $script:StubRoot)) {
        Remove-Item -LiteralPath $script:StubRoot -Recurse -Force
    }
}

Describe 'examples/guard: <Name>' -ForEach $ScriptCases {
    BeforeAll {
        $script:Parsed = Read-Script $Name
    }

    It 'parses without errors' {
        @($script:Parsed.Errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message)" }) | Should -BeNullOrEmpty
    }

    It 'calls only MSCommerce cmdlets the manifest exports or the baseline cmdlets, with their parameters' {
        $calls = @($script:Parsed.Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true) |
                Where-Object { $_.GetCommandName() -match '-MSCommerce' })
        $calls.Count -gt 0 | Should -Be $CallsModule
        @(Find-UnknownCall $script:Parsed.Ast) | Should -BeNullOrEmpty
    }
}

Describe 'examples/guard: <Name> runs under Windows PowerShell 5.1' -ForEach $Windows51Cases {
    BeforeAll {
        $script:Parsed = Read-Script $Name
    }

    It 'calls only its cmdlets and parameters (and the ScheduledTasks module''s), with no PowerShell 7 syntax' {
        @(Find-UnknownCall $script:Parsed.Ast -Windows51) | Should -BeNullOrEmpty
        $newer = $script:Parsed.Ast.FindAll({
                param($node)
                $type = $node.GetType().Name
                $type -eq 'TernaryExpressionAst' -or $type -eq 'PipelineChainAst' -or
                ($type -eq 'BinaryExpressionAst' -and "$($node.Operator)" -eq 'QuestionQuestion') -or
                ($type -eq 'AssignmentStatementAst' -and "$($node.Operator)" -eq 'QuestionQuestionEquals') -or
                ($null -ne $node.PSObject.Properties['NullConditional'] -and $node.NullConditional)
            }, $true)
        @($newer | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Extent.Text)" }) | Should -BeNullOrEmpty
        # -Encoding values of 5.1's file cmdlets (utf8NoBOM and friends came with PowerShell 6).
        $encodings = @('Unknown', 'String', 'Unicode', 'BigEndianUnicode', 'UTF8', 'UTF7', 'UTF32', 'Ascii', 'Default', 'Oem', 'Byte')
        $bad = $script:Parsed.Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true) | ForEach-Object {
            $elements = $_.CommandElements
            for ($i = 0; $i -lt $elements.Count - 1; $i++) {
                if ($elements[$i] -is [System.Management.Automation.Language.CommandParameterAst] -and $elements[$i].ParameterName -eq 'Encoding' -and
                    $encodings -notcontains $elements[$i + 1].Extent.Text) {
                    "line $($elements[$i].Extent.StartLineNumber): -Encoding $($elements[$i + 1].Extent.Text)"
                }
            }
        }
        @($bad) | Should -BeNullOrEmpty
    }
}

Describe 'examples/guard: baseline.example.json' {
    BeforeAll {
        $script:Text = Get-Content -LiteralPath (Join-Path $script:GuardFolder 'baseline.example.json') -Raw
        $script:Baseline = $script:Text | ConvertFrom-Json
    }

    It 'is JSON with the properties of docs/bulk-and-baselines.md section 3, in their order' {
        @($script:Baseline.PSObject.Properties.Name) | Should -Be @('PolicyId', 'TenantId', 'ExportedAt', 'Tool', 'Products', 'OtherProducts')
        $script:Baseline.PolicyId | Should -Be 'AllowSelfServicePurchase'
    }

    It 'names products by ProductId with a PolicyValue (and a ProductName for people), each once' {
        $products = @($script:Baseline.Products)
        $products.Count | Should -BeGreaterThan 0
        foreach ($product in $products) {
            @($product.PSObject.Properties.Name) | Should -Be @('ProductId', 'ProductName', 'PolicyValue')
            $product.ProductId | Should -Match '^[A-Z0-9]+$'
            $product.PolicyValue | Should -BeIn @('Enabled', 'Disabled', 'OnlyTrialsWithoutPaymentMethod')
        }
        @($products.ProductId | Select-Object -Unique).Count | Should -Be $products.Count
    }

    It 'names current products only (productsDocs2025), never a replaced id' {
        $current = @($script:Catalogue.productsDocs2025 | ForEach-Object { $_.productId })
        $old = @($script:Catalogue.replacedProductIds.pairs | ForEach-Object { $_.old })
        foreach ($product in @($script:Baseline.Products)) {
            $product.ProductId | Should -BeIn $current
            $product.ProductId | Should -Not -BeIn $old
            $entry = $script:Catalogue.productsDocs2025 | Where-Object { $_.productId -eq $product.ProductId }
            $product.ProductName | Should -Be $entry.productName
            if ($product.PolicyValue -eq 'OnlyTrialsWithoutPaymentMethod') {
                $entry.trialWithoutPaymentMethod | Should -BeTrue
            }
        }
    }

    It 'is a guard: OtherProducts Disabled, and a template (no TenantId)' {
        $script:Baseline.OtherProducts | Should -Be 'Disabled'
        $script:Baseline.TenantId | Should -BeNullOrEmpty
    }
}

Describe 'examples/guard: systemd units and README' {
    It 'the service applies the baseline with the CLI, a certificate file and an EnvironmentFile, hardened' {
        $unit = Get-Content -LiteralPath (Join-Path $script:GuardFolder 'mscommerce-guard.service') -Raw
        $unit | Should -Match '(?m)^Type=oneshot$'
        $unit | Should -Match '(?m)^EnvironmentFile=/etc/mscommerce/guard\.env$'
        $unit | Should -Match '(?m)^ExecStart=/usr/local/bin/mscommerce --tenant-id \$\{MSCOMMERCE_TENANT_ID\} --client-id \$\{MSCOMMERCE_CLIENT_ID\} --certificate \S+ .*baseline apply --file /etc/mscommerce/baseline\.json$'
        foreach ($option in @('NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=')) {
            $unit | Should -Match ('(?m)^' + [regex]::Escape($option) + '$')
        }
        $environment = Get-Content -LiteralPath (Join-Path $script:GuardFolder 'mscommerce-guard.env.example') -Raw
        foreach ($name in @('MSCOMMERCE_TENANT_ID', 'MSCOMMERCE_CLIENT_ID', 'MSCOMMERCE_CERTIFICATE_PASSWORD', 'MSCOMMERCE_GUARD_OPTIONS')) {
            $environment | Should -Match "(?m)^$name="
        }
    }

    It 'the timer starts it on a calendar, catching up after downtime' {
        $timer = Get-Content -LiteralPath (Join-Path $script:GuardFolder 'mscommerce-guard.timer') -Raw
        $timer | Should -Match '(?m)^OnCalendar=\S'
        $timer | Should -Match '(?m)^Persistent=true$'
        $timer | Should -Match '(?m)^WantedBy=timers\.target$'
    }

    It 'systemd-analyze verify accepts both units' {
        $analyze = Get-Command -Name systemd-analyze -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        $shell = Get-Command -Name sh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($null -eq $analyze -or $null -eq $shell) {
            Set-ItResult -Skipped -Because 'systemd-analyze is not installed here'
            return
        }
        # verify wants ExecStart's program to exist: the CLI is not installed here, sh stands in.
        $folder = Join-Path $script:StubRoot 'units'
        $null = New-Item -ItemType Directory -Path $folder -Force
        $service = (Get-Content -LiteralPath (Join-Path $script:GuardFolder 'mscommerce-guard.service') -Raw).Replace('/usr/local/bin/mscommerce', $shell.Source)
        Set-Content -LiteralPath (Join-Path $folder 'mscommerce-guard.service') -Value $service
        Copy-Item -LiteralPath (Join-Path $script:GuardFolder 'mscommerce-guard.timer') -Destination $folder
        $output = & $analyze.Source verify (Join-Path $folder 'mscommerce-guard.service') (Join-Path $folder 'mscommerce-guard.timer') 2>&1
        $text = ($output | ForEach-Object { "$_" }) -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Not -Match 'mscommerce-guard\.(service|timer):'
    }

    It 'the README names every example and the cron line' {
        $readme = Get-Content -LiteralPath (Join-Path $script:GuardFolder 'README.md') -Raw
        foreach ($file in Get-ChildItem -LiteralPath $script:GuardFolder -File | Where-Object { $_.Name -ne 'README.md' }) {
            $readme | Should -Match ([regex]::Escape($file.Name))
        }
        $readme | Should -Match 'baseline apply --file'
        $readme | Should -Match 'Export-MSCommerceBaseline -OtherProducts Disabled'
        $readme | Should -Match '/etc/cron\.d/mscommerce-guard'
    }
}

Describe 'examples/guard: guard.ps1 against a stand-in module' {
    It 'a clean run applies, tests, logs and exits 0' {
        $run = Invoke-Guard 'clean'
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Calls | Should -Be @('Connect CertificateThumbprint,ClientId,TenantId', 'Sync Disabled', 'Test', 'Disconnect')
        $run.Log | Should -Match 'updated   CFQ7TTC0RM8K \(Teams Premium Introductory Pricing\): Enabled -> Disabled'
        $run.Log | Should -Match 'apply: 1 updated, 1 unchanged, 0 failed'
        $run.Log | Should -Match 'test: 0 products differ from the baseline'
        $run.Log | Should -Match 'guard end: exit 0'
    }

    It 'a product that could not be set and the drift it leaves are logged, exit 1' {
        $run = Invoke-Guard 'failed'
        $run.ExitCode | Should -Be 1 -Because $run.Output
        $run.Log | Should -Match 'failed    CFQ7TTC0LH3L: too many requests, after retries'
        $run.Log | Should -Match 'apply: 1 updated, 1 unchanged, 1 failed'
        $run.Log | Should -Match 'drift     CFQ7TTC0LH3L \(Power Automate per user\): expected Disabled, actual Enabled \(Differs\)'
    }

    It '-TestOnly changes nothing: only Test-MSCommerceBaseline' {
        $run = Invoke-Guard 'failed' @('-TestOnly')
        $run.ExitCode | Should -Be 1 -Because $run.Output
        $run.Calls | Should -Be @('Connect CertificateThumbprint,ClientId,TenantId', 'Test', 'Disconnect')
    }

    It 'a failed sign-in is logged, exit 2' {
        $run = Invoke-Guard 'signin'
        $run.ExitCode | Should -Be 2 -Because $run.Output
        $run.Calls | Should -Be @('Connect CertificateThumbprint,ClientId,TenantId')
        $run.Log | Should -Match 'error     .*AADSTS700027'
    }
}

Describe 'examples/guard: the runbook against a stand-in module' {
    BeforeAll {
        $script:Pwsh7 = $PSVersionTable.PSVersion.Major -ge 7
    }

    It 'applies the baseline of the Automation variable with the managed identity' {
        if (-not $script:Pwsh7) {
            Set-ItResult -Skipped -Because 'the runbook runs on PowerShell 7.2 (Azure Automation)'
            return
        }
        $run = Invoke-Example 'azure-automation-runbook.ps1' 'clean' @()
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Calls | Should -Be @('Variable MSCommerceGuardBaseline', 'Connect Identity', 'Sync Disabled', 'Test', 'Disconnect')
        $run.Output | Should -Match 'updated CFQ7TTC0RM8K \(Teams Premium Introductory Pricing\): Enabled -> Disabled'
        $run.Output | Should -Match 'test: 0 products differ from the baseline'
    }

    It 'fails the job when a product could not be set' {
        if (-not $script:Pwsh7) {
            Set-ItResult -Skipped -Because 'the runbook runs on PowerShell 7.2 (Azure Automation)'
            return
        }
        $run = Invoke-Example 'azure-automation-runbook.ps1' 'failed' @()
        $run.ExitCode | Should -Not -Be 0
        $run.Output | Should -Match 'failed CFQ7TTC0LH3L: too many requests, after retries'
        $run.Output | Should -Match 'MSCommerce guard: not as the baseline says: CFQ7TTC0LH3L'
        $run.Calls[-1] | Should -Be 'Disconnect'
    }
}
