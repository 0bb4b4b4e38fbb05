#Requires -Version 5.1
# examples/guard: the guard's ready-to-use examples (issue 10, item 4) stay runnable as the module
# changes. Each script parses; every MSCommerce command it calls is exported by the manifest and gets
# only parameters it has; the scripts that run under Windows PowerShell 5.1 call only 5.1's cmdlets
# (tests/powershell/data) and the ScheduledTasks module's, with no PowerShell 7 syntax; the example
# baseline has the format of docs/bulk-and-baselines.md section 3; the systemd units are what the
# README says. Then guard.ps1 and the runbook really run, in a new PowerShell process, with this
# module against the emulator: guard.ps1 signs in with the certificate app's PEM file (the TLS
# emulator: certificate sign-in needs HTTPS), the runbook with the managed identity and the shipped
# baseline.example.json as its Automation variable (Get-AutomationVariable is a stand-in): their
# exit codes, logs and output, and the tenant's state read back afterwards.

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
            if ($script:Manifest.FunctionsToExport -contains $Name) {
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

    # The emulators (TestSupport.ps1); the module of this checkout is found by name through
    # $env:PSModulePath, as an installed one is.
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')

    # A folder holding a stand-in of Azure Automation's Get-AutomationVariable: it logs its call to
    # $env:GUARD_STUB_LOG and answers $env:GUARD_STUB_VARIABLE.
    $script:StubRoot = Join-Path ([System.IO.Path]::GetTempPath()) ('mscommerce-guard-{0}' -f [guid]::NewGuid())
    $stubModule = Join-Path $script:StubRoot 'Orchestrator.AssetManagement.Cmdlets'
    $null = New-Item -ItemType Directory -Path $stubModule -Force
    Set-Content -LiteralPath (Join-Path $stubModule 'Orchestrator.AssetManagement.Cmdlets.psm1') -Encoding UTF8 -Value @'
function Get-AutomationVariable {
    param([string] $Name)
    Add-Content -LiteralPath $env:GUARD_STUB_LOG -Value "Variable $Name" -Encoding UTF8
    $env:GUARD_STUB_VARIABLE
}
'@

    # This PowerShell's executable in $PSHOME (the process itself may be `dotnet pwsh.dll`).
    $script:PowerShellExe = Get-TestPowerShellPath

    # A baseline's text that also names a product the tenant does not have.
    function Add-MissingProduct([string] $Text) {
        $Text.Replace('"Products": [', '"Products": [{"ProductId": "CFQ7TTC0GONE", "ProductName": "Gone", "PolicyValue": "Disabled"},')
    }

    # Runs an example script in a new process of this PowerShell with the stand-in and this
    # checkout's module in the module path and $Environment set; answers the exit code, the output
    # and the calls the stand-in saw.
    function Invoke-Example([string] $Name, [string[]] $Arguments, [hashtable] $Environment = @{}) {
        $callLog = Join-Path $script:StubRoot ('calls-{0}.txt' -f [guid]::NewGuid())
        $Environment['PSModulePath'] = $script:StubRoot + [System.IO.Path]::PathSeparator + $script:ModulePathEntry + [System.IO.Path]::PathSeparator + $env:PSModulePath
        $Environment['GUARD_STUB_LOG'] = $callLog
        $saved = @{}
        foreach ($key in @($Environment.Keys)) {
            $saved[$key] = [Environment]::GetEnvironmentVariable($key)
            [Environment]::SetEnvironmentVariable($key, $Environment[$key])
        }
        try {
            $output = & $script:PowerShellExe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File (Join-Path $script:GuardFolder $Name) @Arguments 2>&1
            $code = $LASTEXITCODE
        }
        finally {
            foreach ($key in @($saved.Keys)) {
                [Environment]::SetEnvironmentVariable($key, $saved[$key])
            }
        }
        $calls = @()
        if (Test-Path -LiteralPath $callLog) {
            $calls = @(Get-Content -LiteralPath $callLog)
        }
        @{ ExitCode = $code; Output = (@($output | ForEach-Object { "$_" }) -join "`n"); Calls = $calls }
    }
}

AfterAll {
    Stop-TestEnvironment
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

Describe 'examples/guard: guard.ps1 against the emulator' {
    BeforeAll {
        # The certificate app of the emulator's directory: its certificate and key in a PEM file.
        $script:Material = Invoke-Emulator -Method Get -Path '/_emulator/certificate'
        $script:Pem = Join-Path $script:StubRoot 'guard.pem'
        Set-Content -LiteralPath $script:Pem -Value $script:Material.pem
        $script:TlsUrl = $script:TlsEmulator.Url
        if (-not $script:TlsProblem) {
            # This process reads and changes the tenant as the same app.
            Connect-MSCommerce -TenantId $script:Tenant -ClientId $script:Material.clientId -CertificatePath $script:Pem -ServiceUrl $script:TlsUrl -AuthorityHost $script:TlsUrl 6> $null
        }

        # guard.ps1 in a new process, signed in with the PEM file to the TLS emulator (the module
        # takes the service and the CA from MSCOMMERCE_* variables).
        function Invoke-Guard([string] $Baseline, [string[]] $Extra = @(), [string] $ClientId = $script:Material.clientId) {
            $log = Join-Path $script:StubRoot ('guard-{0}.log' -f [guid]::NewGuid())
            $arguments = @('-TenantId', $script:Tenant, '-ClientId', $ClientId, '-CertificatePath', $script:Pem,
                '-BaselinePath', $Baseline, '-LogPath', $log) + $Extra
            $result = Invoke-Example 'guard.ps1' $arguments @{
                MSCOMMERCE_SERVICE_URL    = $script:TlsUrl
                MSCOMMERCE_AUTHORITY_HOST = $script:TlsUrl
            }
            $result.Log = ''
            if (Test-Path -LiteralPath $log) {
                $result.Log = Get-Content -LiteralPath $log -Raw
            }
            $result
        }

        # A guard baseline of the tenant as it is now (every product at its value, others Disabled).
        function New-GuardBaseline {
            $path = Join-Path $script:StubRoot ('baseline-{0}.json' -f [guid]::NewGuid())
            Export-MSCommerceBaseline -Path $path -OtherProducts Disabled
            $path
        }

        # Sets a product to the other value behind the guard's back; answers the product as it was.
        function Switch-Product([int] $Index) {
            $product = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase)[$Index]
            $other = if ($product.PolicyValue -eq 'Disabled') { 'Enabled' } else { 'Disabled' }
            $null = Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $product.ProductId -Value $other
            [pscustomobject]@{ ProductId = $product.ProductId; ProductName = $product.ProductName; Value = $product.PolicyValue; Other = $other }
        }
    }

    AfterAll {
        # The TLS emulator as it was (it outlives this file under Wine, shared by the files after it).
        if (-not $script:TlsProblem -and $PSVersionTable.PSVersion.Major -ge 6) {
            $null = Invoke-RestMethod -Method Post -Uri "$($script:TlsUrl)/_emulator/reset" -ContentType 'application/json' -Body '{}' -SkipCertificateCheck
        }
    }

    It 'puts back what changed behind its back (and a new product), logs it, exits 0; the next run changes nothing' {
        Skip-WithoutTls -Unproven 'the guard signing in with a certificate file'
        if ($script:TlsProblem) {
            return
        }
        $baseline = New-GuardBaseline
        $first = Switch-Product 0
        $second = Switch-Product 1
        $expected = 2
        if ($PSVersionTable.PSVersion.Major -ge 6) {
            # A product Microsoft adds (Enabled), through the TLS emulator's control endpoint.
            $body = ConvertTo-Json -InputObject @{ productId = 'CFQ7TTC0GRD1'; productName = 'Added later' } -Compress
            $null = Invoke-RestMethod -Method Post -Uri "$($script:TlsUrl)/_emulator/products" -ContentType 'application/json' -Body $body -SkipCertificateCheck
            $expected = 3
        }
        $run = Invoke-Guard $baseline
        $run.ExitCode | Should -Be 0 -Because ($run.Output + "`n" + $run.Log)
        $run.Log | Should -Match ([regex]::Escape("updated   $($first.ProductId) ($($first.ProductName)): $($first.Other) -> $($first.Value)"))
        $run.Log | Should -Match ([regex]::Escape("updated   $($second.ProductId) ($($second.ProductName)): $($second.Other) -> $($second.Value)"))
        if ($expected -eq 3) {
            $run.Log | Should -Match 'updated   CFQ7TTC0GRD1 \(Added later\): Enabled -> Disabled'
        }
        $run.Log | Should -Match "apply: $expected updated, \d+ unchanged, 0 failed"
        $run.Log | Should -Match 'test: 0 products differ from the baseline'
        $run.Log | Should -Match 'guard end: exit 0'
        @(Test-MSCommerceBaseline -Path $baseline) | Should -HaveCount 0
        (Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $first.ProductId).PolicyValue | Should -Be $first.Value

        $again = Invoke-Guard $baseline
        $again.ExitCode | Should -Be 0 -Because $again.Log
        $again.Log | Should -Match 'apply: 0 updated, \d+ unchanged, 0 failed'
    }

    It 'a product that could not be set and the drift it leaves are logged, exit 1' {
        Skip-WithoutTls -Unproven 'the guard reporting a product it could not set'
        if ($script:TlsProblem) {
            return
        }
        $baseline = New-GuardBaseline
        [System.IO.File]::WriteAllText($baseline, (Add-MissingProduct (Get-Content -LiteralPath $baseline -Raw)))
        $run = Invoke-Guard $baseline
        $run.ExitCode | Should -Be 1 -Because ($run.Output + "`n" + $run.Log)
        $run.Log | Should -Match 'failed    CFQ7TTC0GONE: .*in the baseline but not in the tenant'
        $run.Log | Should -Match 'apply: 0 updated, \d+ unchanged, 1 failed'
        $run.Log | Should -Match 'drift     CFQ7TTC0GONE \(Gone\): expected Disabled, actual  \(NotInTenant\)'
    }

    It '-TestOnly changes nothing and exits 1 on drift' {
        Skip-WithoutTls -Unproven 'the alert-only guard'
        if ($script:TlsProblem) {
            return
        }
        $baseline = New-GuardBaseline
        $changed = Switch-Product 2
        $run = Invoke-Guard $baseline @('-TestOnly')
        $run.ExitCode | Should -Be 1 -Because ($run.Output + "`n" + $run.Log)
        $run.Log | Should -Match "drift     $($changed.ProductId) .*expected $($changed.Value), actual $($changed.Other) \(Differs\)"
        $run.Log | Should -Not -Match 'apply:'
        (Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $changed.ProductId).PolicyValue | Should -Be $changed.Other
    }

    It 'a failed sign-in is logged, exit 2' {
        Skip-WithoutTls -Unproven 'the guard signing in with a certificate file'
        if ($script:TlsProblem) {
            return
        }
        $run = Invoke-Guard (Join-Path $script:GuardFolder 'baseline.example.json') @() ([guid]::NewGuid().ToString())
        $run.ExitCode | Should -Be 2 -Because ($run.Output + "`n" + $run.Log)
        $run.Log | Should -Match 'error     '
        $run.Log | Should -Match 'guard end: exit 2'
    }
}

Describe 'examples/guard: the runbook against the emulator' {
    BeforeAll {
        $script:Pwsh7 = $PSVersionTable.PSVersion.Major -ge 7
        # The shipped example baseline names products of today's catalogue.
        Set-EmulatorCatalogue -Catalogue 'docs2025'
        $script:Example = Get-Content -LiteralPath (Join-Path $script:GuardFolder 'baseline.example.json') -Raw

        # The runbook in a new process, signed in with the emulator's managed identity, its
        # Automation variable holding $Baseline.
        function Invoke-Runbook([string] $Baseline) {
            Invoke-Example 'azure-automation-runbook.ps1' @() @{
                IDENTITY_ENDPOINT         = "$($script:Emulator.Url)/msi/token"
                IDENTITY_HEADER           = 'emulator-identity-header'
                MSCOMMERCE_SERVICE_URL    = $script:Emulator.Url
                MSCOMMERCE_AUTHORITY_HOST = $script:Emulator.Url
                GUARD_STUB_VARIABLE       = $Baseline
            }
        }
    }

    BeforeEach {
        Reset-Emulator
    }

    It 'applies baseline.example.json from the Automation variable with the managed identity' {
        if (-not $script:Pwsh7) {
            Set-ItResult -Skipped -Because 'the runbook runs on PowerShell 7.2 (Azure Automation)'
            return
        }
        $run = Invoke-Runbook $script:Example
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Calls | Should -Be @('Variable MSCommerceGuardBaseline')
        # 26 products: Power BI Pro stays Enabled, the other 25 change.
        $run.Output | Should -Match 'updated CFQ7TTC0J1FV \(Teams Exploratory\): Enabled -> OnlyTrialsWithoutPaymentMethod'
        $run.Output | Should -Match 'apply: 25 updated, 1 unchanged, 0 failed'
        $run.Output | Should -Match 'test: 0 products differ from the baseline'
        (Get-EmulatorStats).updates | Should -Be 25
        $items = @((Invoke-Emulator -Method Get -Path '/_emulator/products').items)
        @($items | Where-Object { $_.policyValue -eq 'Enabled' } | ForEach-Object { $_.productId }) | Should -Be @('CFQ7TTC0H9MP')
    }

    It 'fails the job when a product could not be set' {
        if (-not $script:Pwsh7) {
            Set-ItResult -Skipped -Because 'the runbook runs on PowerShell 7.2 (Azure Automation)'
            return
        }
        $run = Invoke-Runbook (Add-MissingProduct $script:Example)
        $run.ExitCode | Should -Not -Be 0
        $run.Output | Should -Match 'failed CFQ7TTC0GONE: .*in the baseline but not in the tenant'
        $run.Output | Should -Match 'MSCommerce guard: not as the baseline says: CFQ7TTC0GONE'
        (Get-EmulatorStats).updates | Should -Be 25
    }
}
