# The many-tenant tests' fixture (Fleet.Tests.ps1, FleetProducts.Tests.ps1), dot-sourced in a
# BeforeAll after TestSupport.ps1: the TLS emulator hosting the partner's customer tenants (app-only
# and client secrets need HTTPS): alpha (all Enabled), bravo (all Disabled), charlie (the partner app
# not consented), delta (no delegated access for the partner user), echo (the app has no role: 403).
# Final states are read back from the emulator's control API (GET /_emulator/tenants/{tenant}/products);
# writes are counted by the emulator. Stop-FleetTest in the AfterAll.

$script:TlsUrl = $script:TlsEmulator.Url
# Why these tests cannot run here, else $null: the control API of the TLS emulator is read with
# Invoke-RestMethod -SkipCertificateCheck, which Windows PowerShell 5.1 lacks.
$script:FleetProblem = $script:TlsProblem
if (-not $script:FleetProblem -and $PSVersionTable.PSVersion.Major -lt 6) {
    $script:FleetProblem = 'the TLS emulator''s control API needs Invoke-RestMethod -SkipCertificateCheck (PowerShell 6 or later)'
}

$script:PartnerTenant = 'fabrikampartners.onmicrosoft.com'
$script:PartnerApp = '8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a30'
$script:PartnerSecret = 'emulator-partner-secret'
$script:PartnerUser = 'admin@fabrikampartners.onmicrosoft.com'
$script:PartnerPassword = 'Emulator-Partner-1'
# The product a lockdown baseline keeps Enabled (seed catalogue, 12 products); every other: Disabled.
$script:Keep = 'CFQ7TTC0KP0N'
$script:Alpha = 'alpha.onmicrosoft.com'
$script:Bravo = '00000000-0000-4000-8000-0000000000b2'
$script:Charlie = 'charlie.onmicrosoft.com'
$script:Delta = 'delta.onmicrosoft.com'
$script:Echo = 'echo.onmicrosoft.com'
$script:FleetConfig = @{ tenants = @(
        @{ tenantId = '00000000-0000-4000-8000-0000000000a1'; domain = 'alpha.onmicrosoft.com'; catalogue = 'seed'; app = 'consented'; partnerAccess = $true; policyValue = 'Enabled' },
        @{ tenantId = '00000000-0000-4000-8000-0000000000b2'; domain = 'bravo.onmicrosoft.com'; catalogue = 'seed'; app = 'consented'; partnerAccess = $true; policyValue = 'Disabled' },
        @{ tenantId = '00000000-0000-4000-8000-0000000000c3'; domain = 'charlie.onmicrosoft.com'; catalogue = 'seed'; app = 'notConsented'; partnerAccess = $true; policyValue = 'Enabled' },
        @{ tenantId = '00000000-0000-4000-8000-0000000000d4'; domain = 'delta.onmicrosoft.com'; catalogue = 'seed'; app = 'consented'; partnerAccess = $false; policyValue = 'Enabled' },
        @{ tenantId = '00000000-0000-4000-8000-0000000000e5'; domain = 'echo.onmicrosoft.com'; catalogue = 'seed'; app = 'noRole'; partnerAccess = $true; policyValue = 'Enabled' }
    )
}

$script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ('mscommerce-fleet-{0}' -f [guid]::NewGuid())
$null = New-Item -ItemType Directory -Path $script:Folder

function Invoke-TlsEmulator([string] $Method = 'Get', [string] $Path, [object] $Body = @{}) {
    $arguments = @{ Method = $Method; Uri = $script:TlsUrl + $Path; SkipCertificateCheck = $true }
    if ($Method -ne 'Get') {
        $arguments.ContentType = 'application/json'
        $arguments.Body = ConvertTo-Json -InputObject $Body -Depth 6 -Compress
    }
    Invoke-RestMethod @arguments
}

# Every tenant fresh, counters zeroed.
function Reset-Fleet {
    $null = Invoke-TlsEmulator -Method Post -Path '/_emulator/tenants' -Body $script:FleetConfig
    $null = Invoke-TlsEmulator -Method Post -Path '/_emulator/reset'
}

function Get-Updates {
    [int](Invoke-TlsEmulator -Path '/_emulator/stats').updates
}

# A tenant's products as the emulator has them: @{ Values = id -> value; Writes }.
function Read-Tenant([string] $Tenant) {
    $answer = Invoke-TlsEmulator -Path "/_emulator/tenants/$Tenant/products"
    $values = @{}
    foreach ($item in @($answer.items)) {
        $values[[string]$item.productId] = [string]$item.policyValue
    }
    @{ Values = $values; Writes = [int]$answer.writes }
}

# Every product at the lockdown baseline's value (-Locked), or all still at $Value with no write.
function Assert-Tenant([string] $Tenant, [switch] $Locked, [string] $Value) {
    $state = Read-Tenant $Tenant
    $state.Values.Count | Should -Be 12 -Because $Tenant
    foreach ($id in @($state.Values.Keys)) {
        $want = $Value
        if ($Locked) {
            $want = if ($id -eq $script:Keep) { 'Enabled' } else { 'Disabled' }
        }
        $state.Values[$id] | Should -Be $want -Because "$Tenant $id"
    }
    if (-not $Locked) {
        $state.Writes | Should -Be 0 -Because "nothing is written in $Tenant"
    }
}

function Connect-PartnerApp {
    $secret = ConvertTo-SecureString -String $script:PartnerSecret -AsPlainText -Force
    $credential = New-Object System.Management.Automation.PSCredential -ArgumentList $script:PartnerApp, $secret
    Connect-MSCommerce -TenantId $script:PartnerTenant -ClientSecretCredential $credential -ServiceUrl $script:TlsUrl -AuthorityHost $script:TlsUrl 6> $null
}

function Connect-PartnerUser {
    $password = ConvertTo-SecureString -String $script:PartnerPassword -AsPlainText -Force
    $credential = New-Object System.Management.Automation.PSCredential -ArgumentList $script:PartnerUser, $password
    Connect-MSCommerce -Credential $credential -ServiceUrl $script:TlsUrl -AuthorityHost $script:TlsUrl 6> $null
}

# The error of a tenant: exactly one, with the ErrorId, category and target of its reason.
function Assert-TenantError([object[]] $Errors, [string] $Tenant, [string] $Reason, [string] $Category, [string] $Command, [string] $Text) {
    $mine = @($Errors | Where-Object { "$($_.TargetObject)" -eq $Tenant })
    $mine | Should -HaveCount 1 -Because "one error for $Tenant"
    $mine[0].FullyQualifiedErrorId | Should -Be "MSCommerce.Tenant.$Reason,$Command"
    "$($mine[0].CategoryInfo.Category)" | Should -Be $Category
    $mine[0].Exception.Message | Should -Match ([regex]::Escape("tenant '$Tenant'"))
    $mine[0].Exception.Message | Should -Match $Text
}

# A new PowerShell process signed in as the partner app: its exit code and output lines (the
# host's "What if:" lines and errors among them). -Interactive: a -Confirm question reads its
# answer from the next line of $Command.
function Invoke-PartnerProcess([string] $Command, [switch] $Interactive) {
    $manifest = $script:ManifestPath.Replace("'", "''")
    $preamble = "Import-Module -Name '$manifest' -ErrorAction Stop`n" +
        "`$secret = ConvertTo-SecureString -String '$($script:PartnerSecret)' -AsPlainText -Force`n" +
        "Connect-MSCommerce -TenantId '$($script:PartnerTenant)' -ClientSecretCredential (New-Object System.Management.Automation.PSCredential -ArgumentList '$($script:PartnerApp)', `$secret) -ServiceUrl '$($script:TlsUrl)' -AuthorityHost '$($script:TlsUrl)' 6> `$null`n"
    Invoke-TestPowerShell -InputText ($preamble + $Command) -Interactive:$Interactive -Environment @{
        MSCOMMERCE_NATIVE_LIBRARY = $env:MSCOMMERCE_NATIVE_LIBRARY
        MSCOMMERCE_CA_FILE        = $env:MSCOMMERCE_CA_FILE
        NO_COLOR                  = '1'
    }
}

# A test's start: skipped when the fleet cannot run here, else every tenant fresh and, with
# -SignIn, that sign-in.
function Start-FleetTest([string] $SignIn) {
    if ($script:FleetProblem) {
        Set-ItResult -Skipped -Because $script:FleetProblem
        return
    }
    Reset-Fleet
    if ($SignIn) {
        & $SignIn
    }
}

# The AfterAll: the TLS emulator without a fleet again (under Wine it outlives the file), the
# emulators stopped, the folder removed.
function Stop-FleetTest {
    if (-not $script:FleetProblem) {
        $null = Invoke-TlsEmulator -Method Post -Path '/_emulator/tenants' -Body @{}
        $null = Invoke-TlsEmulator -Method Post -Path '/_emulator/reset'
    }
    Stop-TestEnvironment
    Remove-Item -LiteralPath $script:Folder -Recurse -Force -ErrorAction Ignore
}
