<#
.SYNOPSIS
    Azure Automation runbook: the MSCommerce guard. Applies the self-service purchase baseline
    kept in an Automation variable, signed in as the Automation account's managed identity.

.DESCRIPTION
    Runtime: PowerShell 7.2 (or later). The Automation account needs:
      - the MSCommerce module (this rebuild, 4.0.0 or later) imported for that runtime version
        (Shared resources > Modules > Add a module; README.md, "Azure Automation");
      - its system-assigned managed identity switched on (Account settings > Identity), and that
        identity given the rights of README.md, "Permissions" (to check in your tenant);
      - a string variable (Shared resources > Variables), by default "MSCommerceGuardBaseline",
        holding the baseline file's JSON (Export-MSCommerceBaseline -OtherProducts Disabled,
        reviewed and edited).
    Link the runbook to a schedule (Schedules > Add a schedule: recurring, e.g. every 6 hours).

    The runbook writes the baseline to a temporary file, signs in with Connect-MSCommerce -Identity,
    applies the file with Sync-MSCommerceBaseline (only differences are written) and tests the
    tenant again with Test-MSCommerceBaseline. Its output is one line per product it changed and a
    summary. The job ends Failed (an alert rule on failed jobs tells you) when a product could not
    be set, when drift is left, or when it could not run; with -TestOnly when there is any drift.

.PARAMETER BaselineVariable
    The name of the Automation string variable holding the baseline JSON.

.PARAMETER ClientId
    The client id of a user-assigned managed identity; empty for the system-assigned one.

.PARAMETER TestOnly
    Only test the tenant against the baseline; change nothing (an alert-only guard).
#>
param(
    [string] $BaselineVariable = 'MSCommerceGuardBaseline',

    [string] $ClientId = '',

    [bool] $TestOnly = $false
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# The baseline: the variable's JSON into a file of this job's sandbox. A variable created from an
# object rather than a string comes back as an object: write it out as JSON again.
$value = Get-AutomationVariable -Name $BaselineVariable
if ($null -eq $value) {
    throw "the Automation variable '$BaselineVariable' is empty: put the baseline file's JSON in it"
}
if ($value -isnot [string]) {
    $value = $value | ConvertTo-Json -Depth 10
}
$baselinePath = Join-Path ([System.IO.Path]::GetTempPath()) ('mscommerce-baseline-{0}.json' -f [guid]::NewGuid())
Set-Content -LiteralPath $baselinePath -Value $value -Encoding utf8NoBOM

$connected = $false
try {
    Import-Module -Name MSCommerce -MinimumVersion 4.0.0
    if ($ClientId) {
        Connect-MSCommerce -Identity -ClientId $ClientId
    }
    else {
        Connect-MSCommerce -Identity
    }
    $connected = $true

    # The products (or, for an error without one, the messages) not as the baseline says.
    $problems = @()
    if (-not $TestOnly) {
        $syncErrors = @()
        $results = @(Sync-MSCommerceBaseline -Path $baselinePath -ErrorAction SilentlyContinue -ErrorVariable syncErrors)
        $updated = @($results | Where-Object { $_.Status -eq 'Updated' })
        $unchanged = @($results | Where-Object { $_.Status -eq 'Unchanged' })
        foreach ($result in $updated) {
            Write-Output ('updated {0} ({1}): {2} -> {3}' -f $result.ProductId, $result.ProductName, $result.PreviousValue, $result.PolicyValue)
        }
        # A product that could not be set is an error with the product id as its target.
        foreach ($record in $syncErrors) {
            Write-Output ('failed {0}: {1}' -f $record.TargetObject, $record.Exception.Message)
            if ($record.TargetObject) {
                $problems += "$($record.TargetObject)"
            }
            else {
                $problems += $record.Exception.Message
            }
        }
        Write-Output ('apply: {0} updated, {1} unchanged, {2} failed' -f $updated.Count, $unchanged.Count, @($syncErrors).Count)
    }

    $drift = @(Test-MSCommerceBaseline -Path $baselinePath)
    foreach ($item in $drift) {
        Write-Output ('drift {0} ({1}): expected {2}, actual {3} ({4})' -f $item.ProductId, $item.ProductName, $item.Expected, $item.Actual, $item.Reason)
    }
    Write-Output ('test: {0} products differ from the baseline' -f $drift.Count)
    $problems += @($drift | ForEach-Object { $_.ProductId })

    $problems = @($problems | Select-Object -Unique)
    if ($problems.Count -gt 0) {
        # A thrown error ends the job Failed, which an alert rule can watch.
        throw ('MSCommerce guard: not as the baseline says: {0} (see the output above)' -f ($problems -join ', '))
    }
}
finally {
    if ($connected) {
        Disconnect-MSCommerce -ErrorAction SilentlyContinue
    }
    Remove-Item -LiteralPath $baselinePath -Force -ErrorAction SilentlyContinue
}
