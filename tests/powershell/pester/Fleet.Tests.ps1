#Requires -Version 5.1
# Many tenants in one command (issue 11, docs/fleet.md): Test- and Sync-MSCommerceBaseline with
# several -TenantId against the TLS emulator hosting the partner's customer tenants (FleetSupport.ps1:
# alpha, bravo, charlie, delta, echo). Every final state is read back from the emulator's control API,
# as tests/cli_fleet.rs does; writes are counted by the emulator. Then examples/msp's runbook runs
# with this module against the same tenants.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
    . (Join-Path $PSScriptRoot 'FleetSupport.ps1')

    # A template (no TenantId): KEEP Enabled, every other product Disabled.
    $script:Baseline = Join-Path $script:Folder 'lockdown.json'
    $script:BaselineText = '{"PolicyId": "AllowSelfServicePurchase", "TenantId": null, "Products": [{"ProductId": "CFQ7TTC0KP0N", "PolicyValue": "Enabled"}], "OtherProducts": "Disabled"}'
    Set-Content -LiteralPath $script:Baseline -Value $script:BaselineText

    # The statuses of a tenant's rows: 'Updated' and 'Unchanged' counts.
    function Get-StatusCount([object[]] $Rows, [string] $Tenant) {
        $mine = @($Rows | Where-Object { $_.TenantId -eq $Tenant })
        '{0} rows: {1} Updated, {2} Unchanged' -f $mine.Count, @($mine | Where-Object Status -eq 'Updated').Count, @($mine | Where-Object Status -eq 'Unchanged').Count
    }
}

AfterAll {
    Stop-FleetTest
}

Describe 'Sync-MSCommerceBaseline -TenantId, app-only (the partner app''s secret at the partner tenant)' {
    BeforeEach {
        Start-FleetTest -SignIn Connect-PartnerApp
    }

    It 'locks down every reachable tenant; the not-consented and the forbidden tenant are errors of their own' {
        if ($script:FleetProblem) { return }
        $all = @($script:Alpha, $script:Bravo, $script:Charlie, $script:Delta, $script:Echo)
        $rows = @(Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $all -ErrorAction SilentlyContinue -ErrorVariable failed)

        # One row per product of each reachable tenant, with the tenant as asked for.
        @($rows | ForEach-Object { $_.TenantId } | Select-Object -Unique) | Should -Be @($script:Alpha, $script:Bravo, $script:Delta)
        Get-StatusCount $rows $script:Alpha | Should -Be '12 rows: 11 Updated, 1 Unchanged'
        Get-StatusCount $rows $script:Bravo | Should -Be '12 rows: 1 Updated, 11 Unchanged'
        Get-StatusCount $rows $script:Delta | Should -Be '12 rows: 11 Updated, 1 Unchanged'
        $keep = $rows | Where-Object { $_.TenantId -eq $script:Bravo -and $_.ProductId -eq $script:Keep }
        "$($keep.PreviousValue) -> $($keep.PolicyValue)" | Should -Be 'Disabled -> Enabled'
        @($rows[0].PSObject.TypeNames)[0..1] | Should -Be @('MSCommerce.TenantProductPolicy', 'MSCommerce.ProductPolicy')
        @($rows[0].PSObject.Properties.Name)[0] | Should -Be 'TenantId'
        ($rows | Out-String -Width 200) | Should -Match 'TenantId\s+ProductId\s+ProductName\s+PreviousValue\s+PolicyValue\s+Status'

        # The two tenants that failed as a whole: non-terminating, their reason, their tenant.
        @($failed) | Should -HaveCount 2
        Assert-TenantError $failed $script:Charlie 'NotConsented' 'PermissionDenied' 'Sync-MSCommerceBaseline' 'AADSTS700016'
        Assert-TenantError $failed $script:Echo 'Forbidden' 'PermissionDenied' 'Sync-MSCommerceBaseline' 'HTTP 403'

        # Read back from the emulator.
        Assert-Tenant $script:Alpha -Locked
        Assert-Tenant $script:Bravo -Locked
        Assert-Tenant $script:Delta -Locked
        Assert-Tenant $script:Charlie -Value 'Enabled'
        Assert-Tenant $script:Echo -Value 'Enabled'
        Get-Updates | Should -Be 23
    }

    It 'a product that cannot be set in a tenant is an error naming the tenant, and the rest of every tenant is still done' {
        if ($script:FleetProblem) { return }
        $gone = Join-Path $script:Folder 'gone.json'
        Set-Content -LiteralPath $gone -Value $script:BaselineText.Replace('"Products": [', '"Products": [{"ProductId": "CFQ7TTC0GONE", "PolicyValue": "Disabled"}, ')
        $rows = @(Sync-MSCommerceBaseline -Path $gone -TenantId $script:Alpha, $script:Bravo -ErrorAction SilentlyContinue -ErrorVariable failed)
        Get-StatusCount $rows $script:Alpha | Should -Be '12 rows: 11 Updated, 1 Unchanged'
        Get-StatusCount $rows $script:Bravo | Should -Be '12 rows: 1 Updated, 11 Unchanged'
        @($failed) | Should -HaveCount 2
        foreach ($tenant in @($script:Alpha, $script:Bravo)) {
            $mine = @($failed | Where-Object { $_.Exception.Data['MSCommerce.TenantId'] -eq $tenant })
            $mine | Should -HaveCount 1
            $mine[0].FullyQualifiedErrorId | Should -Be 'MSCommerce.NotFound,Sync-MSCommerceBaseline'
            $mine[0].TargetObject | Should -Be 'CFQ7TTC0GONE'
            $mine[0].Exception.Message | Should -Match ('^' + [regex]::Escape("tenant '$tenant': ") + '.*in the baseline but not in the tenant')
        }
        Assert-Tenant $script:Alpha -Locked
        Assert-Tenant $script:Bravo -Locked
        Get-Updates | Should -Be 12
    }

    It 'a rerun writes nothing' {
        if ($script:FleetProblem) { return }
        $all = @($script:Alpha, $script:Bravo, $script:Delta)
        $null = Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $all
        $before = Get-Updates
        $before | Should -Be 23
        $rows = @(Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $all -ErrorVariable failed)
        Get-Updates | Should -Be $before
        @($failed) | Should -HaveCount 0
        $rows | Should -HaveCount 36
        @($rows | Where-Object Status -ne 'Unchanged') | Should -HaveCount 0
    }

    It '-WhatIf writes nothing and shows each tenant that would change once, the failing ones as errors' {
        if ($script:FleetProblem) { return }
        $tenants = "'$($script:Alpha)', '$($script:Bravo)', '$($script:Charlie)', '$($script:Delta)'"
        $run = Invoke-PartnerProcess "Sync-MSCommerceBaseline -Path '$($script:Baseline)' -TenantId $tenants -WhatIf"
        $text = $run.Output -join "`n"
        $whatIf = @($run.Output | Where-Object { $_ -like 'What if:*' })
        $whatIf | Should -HaveCount 3 -Because $text
        $whatIf[0] | Should -Match ([regex]::Escape("of 11 products (CFQ7TTC0KP0P") + '.*' + [regex]::Escape("on target `"tenant '$($script:Alpha)'`""))
        $whatIf[1] | Should -Match ([regex]::Escape("of 1 products (CFQ7TTC0KP0N)`" on target `"tenant '$($script:Bravo)'`""))
        $whatIf[2] | Should -Match ([regex]::Escape("on target `"tenant '$($script:Delta)'`""))
        $text | Should -Match ([regex]::Escape("tenant '$($script:Charlie)': the application is not consented"))
        Get-Updates | Should -Be 0
        Assert-Tenant $script:Alpha -Value 'Enabled'
        Assert-Tenant $script:Bravo -Value 'Disabled'
    }

    It '-Confirm asks once per tenant that would change and writes only in the confirmed tenants' {
        if ($script:FleetProblem) { return }
        # Yes for alpha, no for bravo, yes for delta (the lines after the command).
        $tenants = "'$($script:Alpha)', '$($script:Bravo)', '$($script:Delta)'"
        $run = Invoke-PartnerProcess -Interactive ("Sync-MSCommerceBaseline -Path '$($script:Baseline)' -TenantId $tenants -Confirm | " +
            "Group-Object TenantId | ForEach-Object { ""result `$(`$_.Name) `$(`$_.Count)"" }`nY`nN`nY")
        $text = $run.Output -join "`n"
        @([regex]::Matches($text, 'result \S+ \d+') | ForEach-Object { $_.Value }) | Should -Be @("result $($script:Alpha) 12", "result $($script:Delta) 12") -Because $text
        Assert-Tenant $script:Alpha -Locked
        Assert-Tenant $script:Bravo -Value 'Disabled'
        Assert-Tenant $script:Delta -Locked
        Get-Updates | Should -Be 22
    }

    It '-TenantThrottleLimit sets the tenants at once; progress counts tenants; one -TenantId is a single-tenant call' {
        if ($script:FleetProblem) { return }
        $verbose = @(Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Bravo -TenantThrottleLimit 1 -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { $_.Message })
        $verbose | Should -Contain 'fleet: 2 tenants, 2 succeeded, 0 failed, 0 drifted, tenantConcurrency 1'
        { Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Bravo -TenantThrottleLimit 65 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Sync-MSCommerceBaseline'

        $script = @'
param($Manifest, $Url, $App, $Secret, $Partner, $Path, $Tenants)
Import-Module -Name $Manifest -ErrorAction Stop
$credential = New-Object System.Management.Automation.PSCredential -ArgumentList $App, (ConvertTo-SecureString -String $Secret -AsPlainText -Force)
Connect-MSCommerce -TenantId $Partner -ClientSecretCredential $credential -ServiceUrl $Url -AuthorityHost $Url -InformationAction Ignore
Sync-MSCommerceBaseline -Path $Path -TenantId $Tenants
'@
        $run = Invoke-InRunspace -Script $script -Parameters @{ Manifest = $script:ManifestPath; Url = $script:TlsUrl; App = $script:PartnerApp
            Secret = $script:PartnerSecret; Partner = $script:PartnerTenant; Path = $script:Baseline; Tenants = @($script:Delta, $script:Echo, $script:Charlie) }
        $run.Terminating | Should -BeNullOrEmpty
        $status = @($run.Progress | Where-Object { $_.RecordType -ne 'Completed' } | ForEach-Object { $_.StatusDescription })
        $status | Should -Not -BeNullOrEmpty
        $status | ForEach-Object { $_ | Should -Match '^\d of 3 tenants: \d succeeded, \d failed$' }
        @($run.Progress | Where-Object { $_.RecordType -eq 'Completed' }) | Should -Not -BeNullOrEmpty
        @($run.Errors | ForEach-Object { $_.FullyQualifiedErrorId }) | Should -Be @('MSCommerce.Tenant.Forbidden,Sync-MSCommerceBaseline', 'MSCommerce.Tenant.NotConsented,Sync-MSCommerceBaseline')

        # One tenant: the single-tenant output (no TenantId) and its writes.
        Reset-Fleet
        $single = @(Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha)
        $single | Should -HaveCount 12
        $single[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.ProductPolicy'
        $single[0].PSObject.Properties.Name | Should -Not -Contain 'TenantId'
        Assert-Tenant $script:Alpha -Locked
        Get-Updates | Should -Be 11
    }
}

Describe 'Many tenants under the caller''s preferences and strict mode' {
    BeforeEach {
        Start-FleetTest
    }

    It 'Set-StrictMode -Version Latest and $ErrorActionPreference = ''Stop'': the reachable tenant''s rows come first, then the failed tenant is caught' {
        if ($script:FleetProblem) { return }
        $script = @'
param($Manifest, $Url, $App, $Secret, $Partner, $Path, $Tenants)
Set-StrictMode -Version Latest
Import-Module -Name $Manifest -ErrorAction Stop
$credential = New-Object System.Management.Automation.PSCredential -ArgumentList $App, (ConvertTo-SecureString -String $Secret -AsPlainText -Force)
Connect-MSCommerce -TenantId $Partner -ClientSecretCredential $credential -ServiceUrl $Url -AuthorityHost $Url -InformationAction Ignore
$ErrorActionPreference = 'Stop'
try {
    Sync-MSCommerceBaseline -Path $Path -TenantId $Tenants | ForEach-Object { "out $($_.TenantId)" }
    'not caught'
}
catch {
    "caught $($_.FullyQualifiedErrorId) $($_.TargetObject)"
}
'@
        $run = Invoke-InRunspace -GlobalScope -Script $script -Parameters @{ Manifest = $script:ManifestPath; Url = $script:TlsUrl; App = $script:PartnerApp
            Secret = $script:PartnerSecret; Partner = $script:PartnerTenant; Path = $script:Baseline; Tenants = @($script:Charlie, $script:Alpha) }
        $run.Terminating | Should -BeNullOrEmpty
        $lines = @($run.Output | ForEach-Object { "$_" })
        $lines | Should -HaveCount 13
        @($lines[0..11] | Select-Object -Unique) | Should -Be @("out $($script:Alpha)")
        $lines[12] | Should -Be "caught MSCommerce.Tenant.NotConsented,Sync-MSCommerceBaseline $($script:Charlie)"
        Assert-Tenant $script:Alpha -Locked
    }
}

Describe 'Stopping a many-tenant Sync-MSCommerceBaseline (Ctrl+C)' {
    BeforeEach {
        Start-FleetTest
    }

    It 'cancels the run: the tenant being written finishes, the next one is never started, and the next run in that runspace finishes the job' {
        if ($script:FleetProblem) { return }
        $null = Invoke-TlsEmulator -Method Post -Path '/_emulator/faults' -Body @{ latencyMs = 100 }
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        try {
            $preamble = @'
param($Manifest, $Url, $App, $Secret, $Partner, $Path, $Tenants)
Import-Module -Name $Manifest -ErrorAction Stop
$credential = New-Object System.Management.Automation.PSCredential -ArgumentList $App, (ConvertTo-SecureString -String $Secret -AsPlainText -Force)
Connect-MSCommerce -TenantId $Partner -ClientSecretCredential $credential -ServiceUrl $Url -AuthorityHost $Url -InformationAction Ignore

'@
            $parameters = @{ Manifest = $script:ManifestPath; Url = $script:TlsUrl; App = $script:PartnerApp; Secret = $script:PartnerSecret
                Partner = $script:PartnerTenant; Path = $script:Baseline; Tenants = @($script:Alpha, $script:Delta) }
            $first = [powershell]::Create()
            $first.Runspace = $runspace
            $null = $first.AddScript($preamble + 'Sync-MSCommerceBaseline -Path $Path -TenantId $Tenants -TenantThrottleLimit 1 -ThrottleLimit 1').AddParameters($parameters)
            $async = $first.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while ((Get-Updates) -lt 2 -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 50
            }
            $first.Stop()
            $first.Dispose()
            Start-Sleep -Milliseconds 600
            # alpha's bulk run finished (every write of it), delta was never started.
            Assert-Tenant $script:Alpha -Locked
            Assert-Tenant $script:Delta -Value 'Enabled'
            Get-Updates | Should -Be 11

            $null = Invoke-TlsEmulator -Method Post -Path '/_emulator/faults' -Body @{}
            $second = [powershell]::Create()
            $second.Runspace = $runspace
            $null = $second.AddScript('param($Path, $Tenants) Sync-MSCommerceBaseline -Path $Path -TenantId $Tenants').AddParameters(@{ Path = $script:Baseline; Tenants = @($script:Alpha, $script:Delta) })
            $results = @($second.Invoke())
            @($second.Streams.Error) | Should -HaveCount 0
            $second.Dispose()
            Get-StatusCount $results $script:Alpha | Should -Be '12 rows: 0 Updated, 12 Unchanged'
            Get-StatusCount $results $script:Delta | Should -Be '12 rows: 11 Updated, 1 Unchanged'
            Assert-Tenant $script:Delta -Locked
        }
        finally {
            $runspace.Dispose()
        }
    }
}

Describe 'Sync-MSCommerceBaseline -TenantId, delegated (the partner admin''s password)' {
    BeforeEach {
        Start-FleetTest -SignIn Connect-PartnerUser
    }

    It 'locks down the tenants with delegated access (app consent does not matter); no access and an unknown tenant are errors; a rerun writes nothing' {
        if ($script:FleetProblem) { return }
        $all = @($script:Alpha, $script:Charlie, $script:Delta, 'zulu.onmicrosoft.com')
        $rows = @(Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $all -ErrorAction SilentlyContinue -ErrorVariable failed)
        Get-StatusCount $rows $script:Alpha | Should -Be '12 rows: 11 Updated, 1 Unchanged'
        Get-StatusCount $rows $script:Charlie | Should -Be '12 rows: 11 Updated, 1 Unchanged'
        @($failed) | Should -HaveCount 2
        Assert-TenantError $failed $script:Delta 'Forbidden' 'PermissionDenied' 'Sync-MSCommerceBaseline' 'HTTP 403'
        Assert-TenantError $failed 'zulu.onmicrosoft.com' 'TenantNotFound' 'ObjectNotFound' 'Sync-MSCommerceBaseline' 'AADSTS90002'
        Assert-Tenant $script:Alpha -Locked
        Assert-Tenant $script:Charlie -Locked
        Assert-Tenant $script:Delta -Value 'Enabled'
        $before = Get-Updates
        $before | Should -Be 22

        $again = @(Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Charlie)
        Get-Updates | Should -Be $before
        @($again | Where-Object Status -ne 'Unchanged') | Should -HaveCount 0
    }
}

Describe 'Test-MSCommerceBaseline -TenantId' {
    BeforeEach {
        Start-FleetTest -SignIn Connect-PartnerApp
    }

    It 'reports each tenant''s drift with its TenantId, the tenants it cannot read as errors; -Quiet is $true only when every tenant is clean' {
        if ($script:FleetProblem) { return }
        $all = @($script:Alpha, $script:Bravo, $script:Charlie, $script:Echo)
        $drift = @(Test-MSCommerceBaseline -Path $script:Baseline -TenantId $all -ErrorAction SilentlyContinue -ErrorVariable failed)
        @($drift | Where-Object TenantId -eq $script:Alpha) | Should -HaveCount 11
        @($drift | Where-Object TenantId -eq $script:Alpha | Where-Object Reason -ne 'NotInBaseline') | Should -HaveCount 0
        $bravo = @($drift | Where-Object TenantId -eq $script:Bravo)
        $bravo | Should -HaveCount 1
        "$($bravo[0].ProductId) $($bravo[0].Expected) $($bravo[0].Actual) $($bravo[0].Reason)" | Should -Be "$($script:Keep) Enabled Disabled Differs"
        @($drift[0].PSObject.TypeNames)[0..1] | Should -Be @('MSCommerce.TenantBaselineDrift', 'MSCommerce.BaselineDrift')
        ($drift | Out-String -Width 200) | Should -Match 'TenantId\s+ProductId\s+ProductName\s+Expected\s+Actual\s+Reason'
        @($failed) | Should -HaveCount 2
        Assert-TenantError $failed $script:Charlie 'NotConsented' 'PermissionDenied' 'Test-MSCommerceBaseline' 'AADSTS700016'
        Assert-TenantError $failed $script:Echo 'Forbidden' 'PermissionDenied' 'Test-MSCommerceBaseline' 'HTTP 403'
        Get-Updates | Should -Be 0

        Test-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Bravo -Quiet | Should -BeFalse
        $null = Sync-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Bravo
        Test-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Bravo -Quiet | Should -BeTrue
        @(Test-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Bravo) | Should -HaveCount 0
        # Clean where it could read, but a tenant it could not read is not clean.
        Test-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha, $script:Echo -Quiet -ErrorAction SilentlyContinue -ErrorVariable quietErrors | Should -BeFalse
        @($quietErrors | ForEach-Object { $_.FullyQualifiedErrorId }) | Should -Be @('MSCommerce.Tenant.Forbidden,Test-MSCommerceBaseline')

        # One tenant: the single-tenant rows (no TenantId).
        $null = Invoke-TlsEmulator -Method Post -Path "/_emulator/tenants/$($script:Alpha)/products" -Body @{ productId = $script:Keep; policyValue = 'Disabled' }
        $single = @(Test-MSCommerceBaseline -Path $script:Baseline -TenantId $script:Alpha)
        $single | Should -HaveCount 1
        $single[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.BaselineDrift'
        $single[0].PSObject.Properties.Name | Should -Not -Contain 'TenantId'
    }
}

Describe 'examples/msp: the runbook' {
    BeforeAll {
        $script:MspFolder = Join-Path (Join-Path $script:RepoRoot 'examples') 'msp'
        $script:Runbook = Join-Path $script:MspFolder 'azure-automation-runbook.ps1'

        # Stand-ins of Azure Automation's asset cmdlets: each logs its call to $env:MSP_STUB_LOG and
        # answers from $env:MSP_STUB_* (a variable's value, the app's id and secret, its PFX).
        $script:StubRoot = Join-Path $script:Folder 'stubs'
        $stubModule = Join-Path $script:StubRoot 'Orchestrator.AssetManagement.Cmdlets'
        $null = New-Item -ItemType Directory -Path $stubModule -Force
        Set-Content -LiteralPath (Join-Path $stubModule 'Orchestrator.AssetManagement.Cmdlets.psm1') -Encoding UTF8 -Value @'
function Get-AutomationVariable {
    param([string] $Name)
    Add-Content -LiteralPath $env:MSP_STUB_LOG -Value "Variable $Name" -Encoding UTF8
    [Environment]::GetEnvironmentVariable("MSP_STUB_VARIABLE_$Name")
}
function Get-AutomationPSCredential {
    param([string] $Name)
    Add-Content -LiteralPath $env:MSP_STUB_LOG -Value "Credential $Name" -Encoding UTF8
    New-Object System.Management.Automation.PSCredential -ArgumentList $env:MSP_STUB_CLIENT_ID, (ConvertTo-SecureString -String $env:MSP_STUB_SECRET -AsPlainText -Force)
}
function Get-AutomationCertificate {
    param([string] $Name)
    Add-Content -LiteralPath $env:MSP_STUB_LOG -Value "Certificate $Name" -Encoding UTF8
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'Exportable, PersistKeySet, UserKeySet'
    $certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([Convert]::FromBase64String($env:MSP_STUB_PFX), $env:MSP_STUB_PFX_PASSWORD, $flags)
    if ($env:MSP_STUB_CERTIFICATE_STORE -eq 'CurrentUser') {
        # As in Azure Automation's Windows sandbox: the certificate asset is in the user's store.
        $store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'My', 'CurrentUser'
        $store.Open('ReadWrite')
        $store.Add($certificate)
        $store.Close()
    }
    $certificate
}
'@

        # The runbook in a new process of this PowerShell (Invoke-TestPowerShell), with the
        # stand-ins and this checkout's module in the module path, against the TLS emulator; its
        # tenants variable holds $Tenants; $Arguments is PowerShell text. A thrown error (the job
        # failing) is an output line 'job failed: ...' and exit code 1.
        function Invoke-Runbook([string] $Tenants, [string] $Arguments = '') {
            $callLog = Join-Path $script:Folder ('calls-{0}.txt' -f [guid]::NewGuid())
            $material = Invoke-Emulator -Method Get -Path '/_emulator/certificate'
            $command = "try { & '$($script:Runbook)' -PartnerTenantId '$($script:PartnerTenant)' $Arguments; exit 0 } catch { Write-Output `"job failed: `$_`"; exit 1 }"
            $run = Invoke-TestPowerShell -InputText $command -Environment @{
                PSModulePath                            = $script:StubRoot + [System.IO.Path]::PathSeparator + $script:ModulePathEntry + [System.IO.Path]::PathSeparator + $env:PSModulePath
                MSCOMMERCE_NATIVE_LIBRARY               = $env:MSCOMMERCE_NATIVE_LIBRARY
                MSCOMMERCE_CA_FILE                      = $env:MSCOMMERCE_CA_FILE
                MSCOMMERCE_SERVICE_URL                  = $script:TlsUrl
                MSCOMMERCE_AUTHORITY_HOST               = $script:TlsUrl
                MSP_STUB_LOG                            = $callLog
                MSP_STUB_VARIABLE_MSCommerceTenants     = $Tenants
                MSP_STUB_VARIABLE_MSCommerceMspBaseline = $script:BaselineText
                MSP_STUB_CLIENT_ID                      = $script:PartnerApp
                MSP_STUB_SECRET                         = $script:PartnerSecret
                MSP_STUB_PFX                            = $material.pfxBase64
                MSP_STUB_PFX_PASSWORD                   = $material.pfxPassword
                # On Windows the runbook signs in with the certificate of the store, by its thumbprint.
                MSP_STUB_CERTIFICATE_STORE              = $(if ($script:OnWindows) { 'CurrentUser' } else { $null })
                NO_COLOR                                = '1'
            }
            $calls = @()
            if (Test-Path -LiteralPath $callLog) {
                $calls = @(Get-Content -LiteralPath $callLog)
            }
            @{ ExitCode = $run.ExitCode; Output = ($run.Output -join "`n"); Calls = $calls }
        }
    }

    AfterAll {
        if ($script:OnWindows -and -not $script:FleetProblem) {
            # The stand-in put the app's certificate in the user's store.
            $thumbprint = (Invoke-Emulator -Method Get -Path '/_emulator/certificate').thumbprint
            $store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'My', 'CurrentUser'
            $store.Open('ReadWrite')
            foreach ($certificate in @($store.Certificates.Find('FindByThumbprint', $thumbprint, $false))) {
                $store.Remove($certificate)
            }
            $store.Close()
        }
    }

    BeforeEach {
        Start-FleetTest
    }

    It 'parses, and calls the module''s commands with parameters they have' {
        if ($script:FleetProblem) { return }
        $tokens = $null
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($script:Runbook, [ref] $tokens, [ref] $errors)
        @($errors) | Should -HaveCount 0
        $calls = @($ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $node.GetCommandName() -like '*-MSCommerce*' }, $true))
        @($calls | ForEach-Object { $_.GetCommandName() } | Select-Object -Unique | Sort-Object) | Should -Be @('Connect-MSCommerce', 'Disconnect-MSCommerce', 'Sync-MSCommerceBaseline', 'Test-MSCommerceBaseline')
        foreach ($call in $calls) {
            $known = (Get-Command -Name $call.GetCommandName() -Module MSCommerce).Parameters.Keys
            foreach ($given in @($call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] })) {
                $known | Should -Contain $given.ParameterName -Because "line $($call.Extent.StartLineNumber)"
            }
        }
        $readme = Get-Content -LiteralPath (Join-Path $script:MspFolder 'README.md') -Raw
        $readme | Should -Match 'azure-automation-runbook\.ps1'
        $readme | Should -Match 'adminconsent\?client_id='
        $readme | Should -Match 'GDAP'
    }

    It 'applies the baseline in every tenant of the variable with the app''s secret, one line per tenant, and fails the job for the two it cannot reach' {
        if ($script:FleetProblem) { return }
        $run = Invoke-Runbook "# customers`n$($script:Alpha)`n$($script:Bravo), $($script:Charlie)`n$($script:Delta)  # no GDAP, app-only is fine`n$($script:Echo)"
        $run.ExitCode | Should -Not -Be 0 -Because $run.Output
        $run.Calls | Should -Be @('Variable MSCommerceTenants', 'Variable MSCommerceMspBaseline', 'Credential MSCommercePartnerApp')
        $run.Output | Should -Match ([regex]::Escape("tenant $($script:Alpha): 11 updated, 1 unchanged, 0 failed"))
        $run.Output | Should -Match ([regex]::Escape("tenant $($script:Bravo): 1 updated, 11 unchanged, 0 failed"))
        $run.Output | Should -Match ([regex]::Escape("tenant $($script:Delta): 11 updated, 1 unchanged, 0 failed"))
        $run.Output | Should -Match ([regex]::Escape("tenant $($script:Charlie): failed (NotConsented): tenant '$($script:Charlie)': the application is not consented"))
        $run.Output | Should -Match ([regex]::Escape("tenant $($script:Echo): failed (Forbidden): "))
        $run.Output | Should -Match 'fleet: 5 tenants, 3 succeeded, 2 failed'
        # The thrown error: the job's reason to fail.
        $run.Output | Should -Match ([regex]::Escape("job failed: MSCommerce MSP run: 2 of 5 tenants failed: $($script:Charlie), $($script:Echo) (see the output above)"))
        Assert-Tenant $script:Alpha -Locked
        Assert-Tenant $script:Bravo -Locked
        Assert-Tenant $script:Delta -Locked
        Assert-Tenant $script:Charlie -Value 'Enabled'
        Assert-Tenant $script:Echo -Value 'Enabled'
    }

    It 'with the app''s certificate and reachable tenants the job succeeds; the next run writes nothing; -TestOnly writes nothing and fails on drift' {
        if ($script:FleetProblem) { return }
        $certificate = "-CertificateName MSCommercePartnerCertificate -ClientId '$($script:PartnerApp)'"
        $tenants = "$($script:Alpha),$($script:Bravo)"
        $drifted = Invoke-Runbook $tenants ("$certificate -TestOnly `$true")
        $drifted.ExitCode | Should -Not -Be 0 -Because $drifted.Output
        $drifted.Output | Should -Match ([regex]::Escape("tenant $($script:Alpha): 11 products differ from the baseline"))
        $drifted.Output | Should -Match ([regex]::Escape("tenant $($script:Bravo): drift $($script:Keep) (Power Automate per user): expected Enabled, actual Disabled (Differs)"))
        Get-Updates | Should -Be 0

        $run = Invoke-Runbook $tenants $certificate
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Calls | Should -Contain 'Certificate MSCommercePartnerCertificate'
        $run.Calls | Should -Not -Contain 'Credential MSCommercePartnerApp'
        $run.Output | Should -Match 'fleet: 2 tenants, 2 succeeded, 0 failed'
        Get-Updates | Should -Be 12

        $again = Invoke-Runbook $tenants $certificate
        $again.ExitCode | Should -Be 0 -Because $again.Output
        $again.Output | Should -Match ([regex]::Escape("tenant $($script:Alpha): 0 updated, 12 unchanged, 0 failed"))
        Get-Updates | Should -Be 12
        $clean = Invoke-Runbook $tenants ("$certificate -TestOnly `$true")
        $clean.ExitCode | Should -Be 0 -Because $clean.Output
        $clean.Output | Should -Match ([regex]::Escape("tenant $($script:Bravo): 0 products differ from the baseline"))
    }
}
