function Sync-MSCommerceBaseline {
    <#
    .SYNOPSIS
    Sets the tenant's policy values to what a baseline file says, writing only the differences.

    .DESCRIPTION
    Sync-MSCommerceBaseline applies a baseline file as one bulk change: it lists the products of the
    baseline's policy once, writes only the products whose value differs from the file (the file's
    value for the products it names; its OtherProducts value for every other product, unless
    OtherProducts is Keep), several at a time (-ThrottleLimit), then lists them again to verify. A
    progress bar shows how far it got; Ctrl+C stops it cleanly (writes in flight finish, nothing
    further is written) and the products already done are still reported.

    It outputs one MSCommerce.ProductPolicy object per product of the plan with PreviousValue (the
    value before) and Status (Updated, or Unchanged). A product that could not be set, or that the
    file names but the tenant does not have, is a non-terminating error with the product id as its
    target, and the others go on. A file that is missing or not a valid baseline is a terminating
    error, and nothing is written.

    Applied on a schedule, a baseline with "OtherProducts": "Disabled" is a guard: products
    Microsoft adds later (Enabled) are turned off at the next run (examples/guard).

    It supports -WhatIf (lists each product that would change and writes nothing) and -Confirm
    (asks for each of them; only the confirmed ones are written). A relative -Path is relative to
    the current location.

    .PARAMETER Path
    The baseline file (Export-MSCommerceBaseline writes one).

    .PARAMETER ThrottleLimit
    The most writes in flight at once, 1 to 64 (default 8). The service's throttling lowers it for
    a while by itself.

    .PARAMETER TenantId
    The customer tenant(s) to apply the baseline to: tenant ids (GUIDs) or domains such as
    contoso.onmicrosoft.com, for a partner (MSP) signed in with Connect-MSCommerce at its own
    tenant: the multi-tenant app's -ClientId with -ClientSecretCredential or a certificate (app-only;
    the app needs admin consent in each customer tenant), or the partner admin's browser, device code
    or password sign-in (delegated: GDAP access to each customer). Without it, the connection's own
    tenant. One tenant: the output is as without it. Several tenants: each gets the baseline (a
    baseline file with a TenantId is for that tenant only: remove it to use the file as a template);
    the output objects get a TenantId property (PSTypeName MSCommerce.TenantProductPolicy, shown with
    a TenantId column), the progress bar counts tenants, and a tenant that cannot be reached (app not
    consented, no role, not found) is a non-terminating error (ErrorId MSCommerce.Tenant.<Reason>,
    the tenant as its target) while the other tenants go on. -WhatIf and -Confirm show or ask once
    per tenant that would change.

    .PARAMETER TenantThrottleLimit
    With several -TenantId: how many tenants are worked on at once, 1 to 64 (default 4). Each of
    them writes up to -ThrottleLimit products at once.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce. Not with
    several -TenantId.

    .EXAMPLE
    Sync-MSCommerceBaseline -Path baseline.json -WhatIf

    Shows each product that would change, without changing anything.

    .EXAMPLE
    Sync-MSCommerceBaseline -Path baseline.json | Where-Object Status -eq Updated

    Applies the baseline and shows the products it changed, with their previous values.

    .EXAMPLE
    $results = Sync-MSCommerceBaseline -Path baseline.json -ErrorAction SilentlyContinue -ErrorVariable failures

    Applies the baseline; the products that could not be set are in $failures (their ids in
    $failures.TargetObject), the others in $results.

    .EXAMPLE
    Connect-MSCommerce -TenantId fabrikampartners.onmicrosoft.com -ClientSecretCredential (Get-Credential)
    $tenants = (Get-Content customers.txt) -notmatch '^\s*(#|$)'
    Sync-MSCommerceBaseline -Path lockdown.json -TenantId $tenants -TenantThrottleLimit 8 -ErrorVariable failed |
        Where-Object Status -eq Updated

    An MSP signs in with its multi-tenant app (user name: the app id, password: its secret) at its
    own tenant, applies lockdown.json to every customer tenant of customers.txt (one a line, #
    comments), eight tenants at a time, and shows the products changed with their tenant. The
    tenants that could not be reached are in $failed ($failed.TargetObject: their ids).

    .EXAMPLE
    Connect-MSCommerce -UseDeviceCode -ClientId $partnerAppId
    Sync-MSCommerceBaseline -Path lockdown.json -TenantId contoso.onmicrosoft.com, fabrikam.onmicrosoft.com -WhatIf

    A partner admin signs in once (delegated, GDAP) and sees, per customer tenant, what the baseline
    would change there, without changing anything.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.ProductPolicy; with several -TenantId, MSCommerce.TenantProductPolicy (the same with
    TenantId)

    .LINK
    Export-MSCommerceBaseline

    .LINK
    Test-MSCommerceBaseline

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('MSCommerce.ProductPolicy')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Path,

        [Parameter()]
        [ValidateRange(1, 64)]
        [int] $ThrottleLimit,

        [Parameter()]
        [ValidateNotNullOrEmpty()]
        [string[]] $TenantId,

        [Parameter()]
        [ValidateRange(1, 64)]
        [int] $TenantThrottleLimit,

        [Parameter()]
        [string] $Token
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    $request = @{
        concurrency       = $(if ($PSBoundParameters.ContainsKey('ThrottleLimit')) { $ThrottleLimit } else { $null })
        accessToken       = $Token
        # One tenant becomes the request's tenantId (Fleet.ps1).
        tenants           = $TenantId
        tenantConcurrency = $(if ($PSBoundParameters.ContainsKey('TenantThrottleLimit')) { $TenantThrottleLimit } else { $null })
    }
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation bulk -Request $request -InFile $Path -TypeName 'MSCommerce.ProductPolicy' -Activity 'Applying the baseline'
}
