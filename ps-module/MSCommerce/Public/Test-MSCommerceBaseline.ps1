function Test-MSCommerceBaseline {
    <#
    .SYNOPSIS
    Compares the tenant's policy values with a baseline file and outputs the differences.

    .DESCRIPTION
    Test-MSCommerceBaseline lists the products of the baseline's policy once and outputs one
    MSCommerce.BaselineDrift object per difference (nothing when the tenant matches the file):
    ProductId, ProductName, Expected (the file's value), Actual (the tenant's) and Reason:

      Differs        the file names the product and its value differs;
      NotInBaseline  the file does not name the product, its OtherProducts is a value (for example
                     Disabled) and the product's value differs from it (a product Microsoft added);
      NotInTenant    the file names a product the tenant does not have (Actual is empty).

    It changes nothing. With -Quiet it outputs only $true (the tenant matches the file) or $false.
    A file that is missing or not a valid baseline (for example a misspelt property name) is a
    terminating error naming the problem. A relative -Path is relative to the current location.

    .PARAMETER Path
    The baseline file (Export-MSCommerceBaseline writes one).

    .PARAMETER Quiet
    Output $true when there is no difference, $false otherwise, instead of the differences.

    .PARAMETER TenantId
    The customer tenant(s) to test: tenant ids (GUIDs) or domains such as contoso.onmicrosoft.com,
    for a partner (MSP) signed in with Connect-MSCommerce at its own tenant: the multi-tenant app's
    -ClientId with -ClientSecretCredential or a certificate (app-only), or the partner admin's
    browser, device code or password sign-in (delegated, GDAP). Without it, the connection's own
    tenant. One tenant: the output is as without it. Several tenants: each difference is output with
    a TenantId property (PSTypeName MSCommerce.TenantBaselineDrift, shown with a TenantId column), the
    progress bar counts tenants, and a tenant that cannot be read (app not consented, no role, not
    found) is a non-terminating error (ErrorId MSCommerce.Tenant.<Reason>, the tenant as its target)
    while the other tenants go on. With -Quiet: $true only when every tenant matches the file (a
    tenant that could not be read does not).

    .PARAMETER TenantThrottleLimit
    With several -TenantId: how many tenants are read at once, 1 to 64 (default 4).

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce. Not with
    several -TenantId.

    .EXAMPLE
    Test-MSCommerceBaseline -Path baseline.json

    Shows each product whose value is not what baseline.json says, and why.

    .EXAMPLE
    if (-not (Test-MSCommerceBaseline -Path baseline.json -Quiet)) { Write-Warning 'Self-service purchase drifted from the baseline' }

    Warns when the tenant does not match the baseline.

    .EXAMPLE
    Connect-MSCommerce -TenantId fabrikampartners.onmicrosoft.com -ClientId $appId -CertificatePath partner-app.pfx
    Test-MSCommerceBaseline -Path lockdown.json -TenantId ((Get-Content customers.txt) -notmatch '^\s*(#|$)') | Group-Object TenantId

    An MSP signed in with its multi-tenant app's certificate lists, per customer tenant of
    customers.txt (one a line, # comments), the products that differ from lockdown.json.

    .EXAMPLE
    if (-not (Test-MSCommerceBaseline -Path lockdown.json -TenantId $tenants -Quiet)) { Write-Warning 'A customer tenant drifted, or could not be read' }

    Warns unless every tenant of $tenants matches the baseline.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.BaselineDrift (with several -TenantId, MSCommerce.TenantBaselineDrift: the same with
    TenantId), or System.Boolean with -Quiet

    .LINK
    Export-MSCommerceBaseline

    .LINK
    Sync-MSCommerceBaseline

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding()]
    [OutputType('MSCommerce.BaselineDrift', [bool])]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Path,

        [Parameter()]
        [switch] $Quiet,

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
        resource          = 'baselineDrift'
        accessToken       = $Token
        # One tenant becomes the request's tenantId (Fleet.ps1).
        tenants           = $TenantId
        tenantConcurrency = $(if ($PSBoundParameters.ContainsKey('TenantThrottleLimit')) { $TenantThrottleLimit } else { $null })
    }
    $drift = Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -Request $request -InFile $Path -TypeName 'MSCommerce.BaselineDrift' -Activity 'Testing the baseline'
    if ($Quiet) {
        # Several tenants: a tenant that could not be read is not clean either.
        return (@($drift).Count -eq 0 -and ($null -eq $request['tenants'] -or $script:MSCommerceFleetFailed -eq 0))
    }
    $drift
}
