#Requires -Version 5.1
<#
.SYNOPSIS
    The MSCommerce guard: applies a self-service purchase baseline, so that products Microsoft adds
    (Enabled) are turned off again. Run by the scheduled task of windows-scheduled-task.ps1.

.DESCRIPTION
    Signs in as an app with a certificate from the Windows certificate store of the account this
    runs as (Cert:\CurrentUser\My, by thumbprint) or from a file (-CertificatePath: PFX or PEM,
    for PowerShell 7 on Linux or macOS; a PFX password in the MSCOMMERCE_CERTIFICATE_PASSWORD
    environment variable), applies the baseline file with Sync-MSCommerceBaseline (only
    differences are written), checks the tenant against the file again with
    Test-MSCommerceBaseline, and appends what happened to a log file.

    With -TestOnly it changes nothing: it only reports drift (an alert-only guard).

    Exit code (what Task Scheduler shows as "Last Run Result"):
      0  the tenant matches the baseline (possibly after this run changed it)
      1  drift is left, or a product could not be set (see the log)
      2  the guard could not run: module, sign-in, baseline file (see the log)

    Windows PowerShell 5.1 and PowerShell 7 alike. Needs the MSCommerce module (this rebuild, 4.0.0
    or later: Microsoft's 3.x has no baseline cmdlets) in a folder of $env:PSModulePath.

.PARAMETER TenantId
    The tenant: its id or a domain such as contoso.onmicrosoft.com.

.PARAMETER ClientId
    The application (client) id of the app registration the certificate belongs to.

.PARAMETER CertificateThumbprint
    The thumbprint of the certificate in Cert:\CurrentUser\My of the account the task runs as.

.PARAMETER CertificatePath
    Instead of -CertificateThumbprint: the certificate with its private key in a file (PFX, or PEM
    with an unencrypted key). A PFX password is read from $env:MSCOMMERCE_CERTIFICATE_PASSWORD.

.PARAMETER BaselinePath
    The baseline file (Export-MSCommerceBaseline -OtherProducts Disabled, reviewed and edited).

.PARAMETER LogPath
    The log file; default guard.log in a logs folder beside this script. Past 5 MB it is renamed
    to <name>.1 (replacing the previous one) and a new one is started.

.PARAMETER TestOnly
    Only test the tenant against the baseline; change nothing.

.EXAMPLE
    powershell.exe -NoProfile -File C:\MSCommerceGuard\guard.ps1 -TenantId contoso.onmicrosoft.com -ClientId 11111111-2222-3333-4444-555555555555 -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567 -BaselinePath C:\MSCommerceGuard\baseline.json -TestOnly

    Reports the drift of the tenant from the baseline in C:\MSCommerceGuard\logs\guard.log and
    exits 1 when there is any.
#>
[CmdletBinding(DefaultParameterSetName = 'Store')]
param(
    [Parameter(Mandatory = $true)]
    [string] $TenantId,

    [Parameter(Mandatory = $true)]
    [string] $ClientId,

    [Parameter(Mandatory = $true, ParameterSetName = 'Store')]
    [string] $CertificateThumbprint,

    [Parameter(Mandatory = $true, ParameterSetName = 'File')]
    [string] $CertificatePath,

    [Parameter(Mandatory = $true)]
    [string] $BaselinePath,

    [string] $LogPath,

    [switch] $TestOnly
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 2.0

if (-not $LogPath) {
    $LogPath = Join-Path (Join-Path $PSScriptRoot 'logs') 'guard.log'
}

function Write-GuardLog {
    param(
        [Parameter(Mandatory = $true)]
        [AllowEmptyString()]
        [string] $Message
    )
    $stamp = Get-Date -Format 'yyyy-MM-dd HH:mm:ss zzz'
    Add-Content -LiteralPath $LogPath -Value ('{0}  {1}' -f $stamp, $Message) -Encoding UTF8
}

function Get-ErrorText {
    param($Record)
    $target = ''
    if ($null -ne $Record.TargetObject -and "$($Record.TargetObject)" -ne '') {
        $target = "$($Record.TargetObject): "
    }
    '{0}{1}' -f $target, $Record.Exception.Message
}

# The log folder, and one old log kept.
$logFolder = Split-Path -Parent $LogPath
if (-not (Test-Path -LiteralPath $logFolder)) {
    $null = New-Item -ItemType Directory -Path $logFolder -Force
}
if ((Test-Path -LiteralPath $LogPath) -and (Get-Item -LiteralPath $LogPath).Length -gt 5MB) {
    Move-Item -LiteralPath $LogPath -Destination ($LogPath + '.1') -Force
}

$mode = 'apply'
if ($TestOnly) {
    $mode = 'test only'
}
Write-GuardLog ('guard start ({0}): baseline {1}, tenant {2}, app {3}, account {4}' -f $mode, $BaselinePath, $TenantId, $ClientId, [Environment]::UserName)

$exitCode = 0
$connected = $false
try {
    if (-not (Test-Path -LiteralPath $BaselinePath -PathType Leaf)) {
        throw "the baseline file '$BaselinePath' does not exist"
    }
    Import-Module -Name MSCommerce -MinimumVersion 4.0.0
    if ($PSCmdlet.ParameterSetName -eq 'File') {
        $certificate = @{ CertificatePath = $CertificatePath }
        if ($env:MSCOMMERCE_CERTIFICATE_PASSWORD) {
            $certificate.CertificatePassword = ConvertTo-SecureString -String $env:MSCOMMERCE_CERTIFICATE_PASSWORD -AsPlainText -Force
        }
    }
    else {
        $certificate = @{ CertificateThumbprint = $CertificateThumbprint }
    }
    Connect-MSCommerce -TenantId $TenantId -ClientId $ClientId @certificate
    $connected = $true

    if (-not $TestOnly) {
        # One result per product (Status Updated or Unchanged); a product that could not be set is
        # an error with the product id as its target, and the others are still done.
        $syncErrors = @()
        $results = @(Sync-MSCommerceBaseline -Path $BaselinePath -ErrorAction SilentlyContinue -ErrorVariable syncErrors)
        $updated = @($results | Where-Object { $_.Status -eq 'Updated' })
        $unchanged = @($results | Where-Object { $_.Status -eq 'Unchanged' })
        foreach ($result in $updated) {
            Write-GuardLog ('updated   {0} ({1}): {2} -> {3}' -f $result.ProductId, $result.ProductName, $result.PreviousValue, $result.PolicyValue)
        }
        foreach ($record in $syncErrors) {
            Write-GuardLog ('failed    {0}' -f (Get-ErrorText $record))
        }
        Write-GuardLog ('apply: {0} updated, {1} unchanged, {2} failed' -f $updated.Count, $unchanged.Count, @($syncErrors).Count)
        if (@($syncErrors).Count -gt 0) {
            $exitCode = 1
        }
    }

    # What is left: after an apply, nothing unless a product could not be set.
    $drift = @(Test-MSCommerceBaseline -Path $BaselinePath)
    foreach ($item in $drift) {
        Write-GuardLog ('drift     {0} ({1}): expected {2}, actual {3} ({4})' -f $item.ProductId, $item.ProductName, $item.Expected, $item.Actual, $item.Reason)
    }
    Write-GuardLog ('test: {0} products differ from the baseline' -f $drift.Count)
    if ($drift.Count -gt 0) {
        $exitCode = 1
    }
}
catch {
    Write-GuardLog ('error     {0}' -f (Get-ErrorText $_))
    $exitCode = 2
}
finally {
    if ($connected) {
        Disconnect-MSCommerce -ErrorAction SilentlyContinue
    }
}

Write-GuardLog ('guard end: exit {0}' -f $exitCode)
exit $exitCode
