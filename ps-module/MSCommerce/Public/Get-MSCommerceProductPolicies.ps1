function Get-MSCommerceProductPolicies {
    <#
    .SYNOPSIS
    Lists the self-service purchase products of a policy and whether each is enabled or disabled.

    .DESCRIPTION
    Get-MSCommerceProductPolicies returns one object per product with the properties PolicyId,
    ProductName, ProductId and PolicyValue (type name MSCommerce.ProductPolicy; the default table
    shows PolicyValue, ProductId, PolicyId, ProductName, as the published module did). Items of a
    scope other than product carry PolicyId, PolicyValue, Scope, ScopeId and ScopeValue instead
    (MSCommerce.ScopePolicy). The objects can be piped to Update-MSCommerceProductPolicy. Run
    Connect-MSCommerce first, or pass -Token.

    .PARAMETER PolicyId
    The policy, e.g. AllowSelfServicePurchase.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .PARAMETER Scope
    The scope to list; the service lists products (scope=product) when it is not given.

    .PARAMETER TenantId
    The customer tenant(s) to list: tenant ids (GUIDs) or domains such as contoso.onmicrosoft.com,
    for a partner (MSP) signed in once with Connect-MSCommerce at its own tenant (the multi-tenant
    app's -ClientId with a secret or certificate, or the partner admin's delegated GDAP sign-in).
    Without it, the connection's own tenant. One tenant: the output is as without it. Several
    tenants: one listing per tenant, each product with a TenantId property first (PSTypeNames
    MSCommerce.TenantProductPolicy#Listing and MSCommerce.TenantProductPolicy before
    MSCommerce.ProductPolicy, shown with a TenantId column),
    the progress bar counts tenants, Ctrl+C stops the run, and a tenant that cannot be read (app not
    consented, no role, not found) is a non-terminating error (ErrorId MSCommerce.Tenant.<Reason>,
    the tenant as its target) while the other tenants go on.

    .PARAMETER TenantThrottleLimit
    With several -TenantId: how many tenants are read at once, 1 to 64 (default 4).

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase

    Lists all available self-service purchase products and the status of each.

    .EXAMPLE
    $product = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | where {$_.ProductName -match 'Power Automate'}

    Gets the products whose name matches Power Automate (there may be several).

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object PolicyValue -eq 'Enabled' | Update-MSCommerceProductPolicy -Value Disabled

    Disables self-service purchase for every product that still allows it.

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -TenantId (Get-Content tenants.txt) | Where-Object PolicyValue -eq Enabled

    An MSP lists, in every customer tenant of tenants.txt (one a line), the products that still
    allow self-service purchase, with their tenant.

    .EXAMPLE
    Get-MSCommerceProductPolicies AllowSelfServicePurchase -TenantId contoso.onmicrosoft.com

    Lists the products of one customer tenant (the same objects as for the partner's own tenant).

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.ProductPolicy (with several -TenantId, MSCommerce.TenantProductPolicy#Listing: the same
    with TenantId)

    .LINK
    Get-MSCommerceProductPolicy

    .LINK
    Update-MSCommerceProductPolicy

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding()]
    [OutputType('MSCommerce.ProductPolicy')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $PolicyId,

        [Parameter(Position = 1)]
        [string] $Token,

        [Parameter()]
        [string] $Scope,

        # Customer tenants (Fleet.ps1), and how many of them are read at once.
        [Parameter()] [ValidateNotNullOrEmpty()] [string[]] $TenantId,
        [Parameter()] [ValidateRange(1, 64)] [int] $TenantThrottleLimit
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.ProductPolicy' -TargetObject $PolicyId -Activity 'Listing product policies' -Request @{
        resource          = 'productPolicies'
        policyId          = $PolicyId
        scope             = $Scope
        accessToken       = $Token
        # One tenant becomes the request's tenantId (Fleet.ps1).
        tenants           = $TenantId
        tenantConcurrency = $(if ($PSBoundParameters.ContainsKey('TenantThrottleLimit')) { $TenantThrottleLimit } else { $null })
    }
}
