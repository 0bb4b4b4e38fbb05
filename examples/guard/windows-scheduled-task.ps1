#Requires -Version 5.1
<#
.SYNOPSIS
    Registers the MSCommerce guard as a Windows scheduled task: guard.ps1 every few hours, as the
    account whose Cert:\CurrentUser\My holds the app's certificate, whether it is logged on or not.

.DESCRIPTION
    Run it once, as the account the task is to run as (the one that imported the certificate into
    its CurrentUser\My store; see README.md, "Windows scheduled task"). It checks the certificate,
    the guard script and the baseline file, asks for the account's password (Task Scheduler keeps
    it to start the task while nobody is logged on: the certificate's private key in the user's
    store is only usable with a password logon), and registers the task \MSCommerce\MSCommerce guard
    with a daily trigger at each time of -At (default every 6 hours, up to 10 minutes later at
    random). Running it again replaces the task.

    The task runs Windows PowerShell 5.1 (powershell.exe -NoProfile -NonInteractive
    -ExecutionPolicy Bypass -File guard.ps1 ...): guard.ps1 logs to logs\guard.log beside it and
    exits 0 (in line with the baseline), 1 (drift left or a product failed) or 2 (could not run),
    which Task Scheduler shows as the "Last Run Result".

    The account needs the "Log on as a batch job" right (Administrators and Backup Operators have
    it by default; give it to a dedicated non-admin account in secpol.msc or a GPO), read access to
    this folder and write access to its logs folder. Uses the ScheduledTasks module (Windows 8 /
    Windows Server 2012 and later).

.PARAMETER TenantId
    The tenant: its id or a domain such as contoso.onmicrosoft.com.

.PARAMETER ClientId
    The application (client) id of the app registration the certificate belongs to.

.PARAMETER CertificateThumbprint
    The thumbprint of the certificate in Cert:\CurrentUser\My of the task's account.

.PARAMETER BaselinePath
    The baseline file the guard applies.

.PARAMETER Credential
    The account the task runs as, with its password. Default: asks for the password of the
    account running this script.

.PARAMETER At
    The times of day the guard runs (default 00:30, 06:30, 12:30 and 18:30).

.PARAMETER GuardScript
    The guard script (default guard.ps1 beside this script).

.PARAMETER LogPath
    The guard's log file (default logs\guard.log beside the guard script).

.PARAMETER TaskName
    The task's name (default "MSCommerce guard", in the task folder \MSCommerce\).

.PARAMETER TestOnly
    Register an alert-only guard: it tests the tenant against the baseline and changes nothing.

.PARAMETER RunNow
    Start the task once right after registering it (then read the log).

.EXAMPLE
    .\windows-scheduled-task.ps1 -TenantId contoso.onmicrosoft.com -ClientId 11111111-2222-3333-4444-555555555555 -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567 -BaselinePath C:\MSCommerceGuard\baseline.json -RunNow

    Asks for the current account's password, registers the task and runs it once.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $TenantId,

    [Parameter(Mandatory = $true)]
    [string] $ClientId,

    [Parameter(Mandatory = $true)]
    [string] $CertificateThumbprint,

    [Parameter(Mandatory = $true)]
    [string] $BaselinePath,

    [System.Management.Automation.PSCredential] $Credential,

    [string[]] $At = @('00:30', '06:30', '12:30', '18:30'),

    [string] $GuardScript,

    [string] $LogPath,

    [string] $TaskName = 'MSCommerce guard',

    [switch] $TestOnly,

    [switch] $RunNow
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

$taskPath = '\MSCommerce\'

if (-not $GuardScript) {
    $GuardScript = Join-Path $PSScriptRoot 'guard.ps1'
}
$GuardScript = (Resolve-Path -LiteralPath $GuardScript).ProviderPath
$BaselinePath = (Resolve-Path -LiteralPath $BaselinePath).ProviderPath
if (-not $LogPath) {
    $LogPath = Join-Path (Join-Path (Split-Path -Parent $GuardScript) 'logs') 'guard.log'
}

# Everything goes into one command line in double quotes: refuse what would break it.
foreach ($value in @($TenantId, $ClientId, $GuardScript, $BaselinePath, $LogPath)) {
    if ($value.Contains('"')) {
        throw "a value may not contain a double quote: $value"
    }
}

$CertificateThumbprint = ($CertificateThumbprint -replace '[\s:]', '').ToUpperInvariant()
if ($CertificateThumbprint -notmatch '^[0-9A-F]{40}$') {
    throw 'the certificate thumbprint must be 40 hexadecimal digits (as the Azure portal and certlm.msc show it)'
}

# The baseline: JSON with a PolicyId and Products, checked now rather than at 00:30.
$baseline = Get-Content -LiteralPath $BaselinePath -Raw | ConvertFrom-Json
if ($null -eq $baseline.PSObject.Properties['PolicyId'] -or $null -eq $baseline.PSObject.Properties['Products']) {
    throw "'$BaselinePath' is not a baseline file: it has no PolicyId or no Products (see baseline.example.json)"
}
if ($null -eq $baseline.PSObject.Properties['OtherProducts'] -or $baseline.OtherProducts -eq 'Keep') {
    Write-Warning "'$BaselinePath' leaves products it does not name alone (OtherProducts Keep): products Microsoft adds will stay Enabled. The guard wants ""OtherProducts"": ""Disabled""."
}

$current = [System.Security.Principal.WindowsIdentity]::GetCurrent()
if (-not $Credential) {
    $Credential = Get-Credential -UserName $current.Name -Message 'The password of the account the MSCommerce guard task runs as'
}
if ($null -eq $Credential) {
    throw 'no credential given'
}
$taskUser = $Credential.UserName
if ($taskUser.StartsWith('.\')) {
    $taskUser = $env:COMPUTERNAME + $taskUser.Substring(1)
}

# The certificate can only be checked in the store of the account running this script.
$sameAccount = $false
try {
    $taskSid = (New-Object System.Security.Principal.NTAccount($taskUser)).Translate([System.Security.Principal.SecurityIdentifier])
    $sameAccount = ($taskSid.Value -eq $current.User.Value)
}
catch {
    Write-Warning "cannot look up the account '$taskUser': $($_.Exception.Message)"
}
$certificate = Get-Item -LiteralPath "Cert:\CurrentUser\My\$CertificateThumbprint" -ErrorAction SilentlyContinue
if ($sameAccount) {
    if ($null -eq $certificate) {
        throw "no certificate $CertificateThumbprint in Cert:\CurrentUser\My of $($current.Name): import the PFX there first (README.md)"
    }
    if (-not $certificate.HasPrivateKey) {
        throw "the certificate $CertificateThumbprint in Cert:\CurrentUser\My has no private key: import the PFX, not the .cer"
    }
    if ($certificate.NotAfter -lt (Get-Date).AddDays(30)) {
        Write-Warning "the certificate $CertificateThumbprint expires on $($certificate.NotAfter): renew it and upload the new one to the app registration"
    }
}
else {
    Write-Warning "the task runs as $taskUser, not as $($current.Name): make sure the certificate $CertificateThumbprint is in Cert:\CurrentUser\My of $taskUser"
}

$module = Get-Module -ListAvailable -Name MSCommerce | Where-Object { $_.Version -ge [version]'4.0.0' } | Select-Object -First 1
if ($null -eq $module) {
    Write-Warning 'MSCommerce 4.0.0 or later (this rebuild) is not in a module folder of this account: expand the release zip into a folder of $env:PSModulePath that the task account sees, e.g. C:\Program Files\WindowsPowerShell\Modules'
}

$logFolder = Split-Path -Parent $LogPath
if (-not (Test-Path -LiteralPath $logFolder)) {
    $null = New-Item -ItemType Directory -Path $logFolder -Force
}

$arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "{0}" -TenantId "{1}" -ClientId "{2}" -CertificateThumbprint {3} -BaselinePath "{4}" -LogPath "{5}"' -f $GuardScript, $TenantId, $ClientId, $CertificateThumbprint, $BaselinePath, $LogPath
if ($TestOnly) {
    $arguments += ' -TestOnly'
}
$powershell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
$action = New-ScheduledTaskAction -Execute $powershell -Argument $arguments -WorkingDirectory (Split-Path -Parent $GuardScript)
$triggers = @(foreach ($time in $At) {
        New-ScheduledTaskTrigger -Daily -At $time -RandomDelay (New-TimeSpan -Minutes 10)
    })
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Minutes 30) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries

$description = 'Applies the self-service purchase baseline {0} (MSCommerce guard: products Microsoft adds are turned off again). Log: {1}' -f $BaselinePath, $LogPath
if ($TestOnly) {
    $description = 'Tests the tenant against the self-service purchase baseline {0}, changes nothing; exit 1 on drift. Log: {1}' -f $BaselinePath, $LogPath
}
$task = Register-ScheduledTask -TaskName $TaskName -TaskPath $taskPath -Action $action -Trigger $triggers -Settings $settings -User $Credential.UserName -Password $Credential.GetNetworkCredential().Password -RunLevel Limited -Description $description -Force
Write-Host ("Registered {0}{1}: runs daily at {2} as {3}; log {4}" -f $taskPath, $TaskName, ($At -join ', '), $Credential.UserName, $LogPath)

if ($RunNow) {
    Start-ScheduledTask -TaskName $TaskName -TaskPath $taskPath
    Write-Host "Started. In a minute: Get-Content '$LogPath' -Tail 20; (Get-ScheduledTaskInfo -TaskName '$TaskName' -TaskPath '$taskPath').LastTaskResult (0 in line, 1 drift or failures, 2 could not run; 267009 still running)"
}
$task
