<#
.SYNOPSIS
    Azure Automation runbook for managed service providers: applies one self-service purchase
    baseline to every customer tenant of a list, signed in once as the partner's multi-tenant app.

.DESCRIPTION
    Runtime: PowerShell 7.2 (or later). The Automation account needs (README.md):
      - the MSCommerce module (this rebuild, 4.0.0 or later) imported for that runtime version;
      - the partner's multi-tenant app registration, consented in each customer tenant, and either
        a credential asset (Shared resources > Credentials), by default "MSCommercePartnerApp",
        whose user name is the app (client) id and whose password is a client secret, or a
        certificate asset (-CertificateName, with -ClientId) holding the app's certificate and key;
      - a string variable, by default "MSCommerceTenants": the customer tenants, ids or domains,
        one a line or separated by commas ('#' starts a comment);
      - a string variable, by default "MSCommerceMspBaseline": the baseline file's JSON, a template
        (no TenantId), for example every product Disabled but an allow-list.
    Link the runbook to a schedule (Schedules > Add a schedule: recurring, e.g. daily).

    The runbook signs in at the partner's tenant (Connect-MSCommerce -TenantId $PartnerTenantId),
    then runs Sync-MSCommerceBaseline -TenantId $tenants (only differences are written, several
    tenants at a time), or with -TestOnly Test-MSCommerceBaseline -TenantId $tenants. Its output is
    one line per tenant (products updated, unchanged and failed; or why the tenant failed: the app
    not consented there, no role, not found) and a summary line. The job ends Failed (an alert rule
    on failed jobs tells you) when any tenant failed or a product could not be set; with -TestOnly
    also when any tenant drifted from the baseline.

.PARAMETER PartnerTenantId
    The partner's own tenant (id or domain), where the multi-tenant app is registered.

.PARAMETER TenantsVariable
    The name of the Automation string variable holding the customer tenants.

.PARAMETER BaselineVariable
    The name of the Automation string variable holding the baseline JSON.

.PARAMETER CredentialName
    The name of the Automation credential: user name = the app's client id, password = its secret.

.PARAMETER CertificateName
    The name of an Automation certificate of the app, to sign in with instead of the secret.

.PARAMETER ClientId
    The app's client id, with -CertificateName.

.PARAMETER TenantThrottleLimit
    How many tenants are worked on at once (1 to 64).

.PARAMETER TestOnly
    Only test the tenants against the baseline; change nothing (an alert-only run).
#>
param(
    [Parameter(Mandatory = $true)]
    [string] $PartnerTenantId,

    [string] $TenantsVariable = 'MSCommerceTenants',

    [string] $BaselineVariable = 'MSCommerceMspBaseline',

    [string] $CredentialName = 'MSCommercePartnerApp',

    [string] $CertificateName = '',

    [string] $ClientId = '',

    [int] $TenantThrottleLimit = 4,

    [bool] $TestOnly = $false
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# The tenants: one a line or comma separated, '#' comments. A variable holding an array works too.
$tenants = @(@(Get-AutomationVariable -Name $TenantsVariable) | ForEach-Object { "$_" -split '\r?\n' } |
        ForEach-Object { ($_ -replace '#.*$', '') -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
if ($tenants.Count -eq 0) {
    throw "the Automation variable '$TenantsVariable' names no tenant: put the customer tenants in it, one a line"
}

# The baseline: the variable's JSON into a file of this job's sandbox.
$value = Get-AutomationVariable -Name $BaselineVariable
if ($null -eq $value) {
    throw "the Automation variable '$BaselineVariable' is empty: put the baseline file's JSON in it"
}
if ($value -isnot [string]) {
    $value = $value | ConvertTo-Json -Depth 10
}
$work = Join-Path ([System.IO.Path]::GetTempPath()) ('mscommerce-msp-{0}' -f [guid]::NewGuid())
$null = New-Item -ItemType Directory -Path $work
$baselinePath = Join-Path $work 'baseline.json'
Set-Content -LiteralPath $baselinePath -Value $value -Encoding utf8NoBOM

# The tenant an ErrorRecord is about: a failed tenant's target, or a failed product's tenant.
function Get-ErrorTenant($Record) {
    $tenant = $Record.Exception.Data['MSCommerce.TenantId']
    if ($tenant) {
        return "$tenant"
    }
    if ($tenants.Count -eq 1) {
        return $tenants[0]
    }
    "$($Record.TargetObject)"
}

$connected = $false
try {
    Import-Module -Name MSCommerce -MinimumVersion 4.0.0
    if ($CertificateName) {
        # Sign in with the certificate: from the sandbox's store when it is there (Windows), else
        # through a PFX file of this job (the asset must have been uploaded as exportable).
        $certificate = Get-AutomationCertificate -Name $CertificateName
        $onWindows = $PSVersionTable.PSEdition -eq 'Desktop' -or $IsWindows
        if ($onWindows -and (Test-Path -LiteralPath "Cert:\CurrentUser\My\$($certificate.Thumbprint)")) {
            Connect-MSCommerce -TenantId $PartnerTenantId -ClientId $ClientId -CertificateThumbprint $certificate.Thumbprint
        }
        else {
            $password = [guid]::NewGuid().ToString()
            $pfx = Join-Path $work 'app.pfx'
            [System.IO.File]::WriteAllBytes($pfx, $certificate.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pfx, $password))
            Connect-MSCommerce -TenantId $PartnerTenantId -ClientId $ClientId -CertificatePath $pfx -CertificatePassword (ConvertTo-SecureString -String $password -AsPlainText -Force)
        }
    }
    else {
        Connect-MSCommerce -TenantId $PartnerTenantId -ClientSecretCredential (Get-AutomationPSCredential -Name $CredentialName)
    }
    $connected = $true

    # One command for all tenants; a tenant that fails is an error of its own, the others go on.
    $runErrors = @()
    $rows = @()
    $caught = $false
    try {
        if ($TestOnly) {
            $rows = @(Test-MSCommerceBaseline -Path $baselinePath -TenantId $tenants -TenantThrottleLimit $TenantThrottleLimit -ErrorAction SilentlyContinue -ErrorVariable runErrors)
        }
        else {
            $rows = @(Sync-MSCommerceBaseline -Path $baselinePath -TenantId $tenants -TenantThrottleLimit $TenantThrottleLimit -ErrorAction SilentlyContinue -ErrorVariable runErrors)
        }
    }
    catch {
        # With one tenant, an error that ends the command (its sign-in failing) is that tenant's
        # failure; with several, such an error is not about one tenant (the baseline file): it
        # ends the job.
        if ($tenants.Count -ne 1) {
            throw
        }
        $runErrors = @($_)
        $caught = $true
    }

    # The summary, one line per tenant.
    $bad = @()
    foreach ($tenant in $tenants) {
        $mine = @($rows | Where-Object { $tenants.Count -eq 1 -or $_.TenantId -eq $tenant })
        $errors = @($runErrors | Where-Object { (Get-ErrorTenant $_) -eq $tenant })
        $whole = @($errors | Where-Object { $caught -or $_.FullyQualifiedErrorId -like 'MSCommerce.Tenant.*' })
        if ($whole.Count -gt 0) {
            $reason = ($whole[0].FullyQualifiedErrorId -split ',')[0] -replace '^MSCommerce\.(Tenant\.)?', ''
            Write-Output ('tenant {0}: failed ({1}): {2}' -f $tenant, $reason, $whole[0].Exception.Message)
            $bad += $tenant
            continue
        }
        foreach ($record in $errors) {
            Write-Output ('tenant {0}: failed {1}: {2}' -f $tenant, $record.TargetObject, $record.Exception.Message)
        }
        if ($TestOnly) {
            Write-Output ('tenant {0}: {1} products differ from the baseline' -f $tenant, $mine.Count)
            foreach ($item in $mine) {
                Write-Output ('tenant {0}: drift {1} ({2}): expected {3}, actual {4} ({5})' -f $tenant, $item.ProductId, $item.ProductName, $item.Expected, $item.Actual, $item.Reason)
            }
            if ($mine.Count -gt 0 -or $errors.Count -gt 0) {
                $bad += $tenant
            }
            continue
        }
        $updated = @($mine | Where-Object { $_.Status -eq 'Updated' }).Count
        $unchanged = @($mine | Where-Object { $_.Status -eq 'Unchanged' }).Count
        Write-Output ('tenant {0}: {1} updated, {2} unchanged, {3} failed' -f $tenant, $updated, $unchanged, $errors.Count)
        if ($errors.Count -gt 0) {
            $bad += $tenant
        }
    }
    $what = if ($TestOnly) { 'drifted or failed' } else { 'failed' }
    Write-Output ('fleet: {0} tenants, {1} succeeded, {2} {3}' -f $tenants.Count, ($tenants.Count - $bad.Count), $bad.Count, $what)
    if ($bad.Count -gt 0) {
        # A thrown error ends the job Failed, which an alert rule can watch.
        throw ('MSCommerce MSP run: {0} of {1} tenants {2}: {3} (see the output above)' -f $bad.Count, $tenants.Count, $what, ($bad -join ', '))
    }
}
finally {
    if ($connected) {
        Disconnect-MSCommerce -ErrorAction SilentlyContinue
    }
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
