function Get-MSCommerceProductPolicy {
    <#
    .SYNOPSIS
    Gets the policy setting of one product (or offer type): whether self-service purchase is enabled.

    .DESCRIPTION
    Get-MSCommerceProductPolicy returns PolicyId, ProductName, ProductId and PolicyValue for one
    product (type name MSCommerce.ProductPolicy), or PolicyId, PolicyValue, Scope, ScopeId and
    ScopeValue for an offer type (MSCommerce.ScopePolicy). Run Connect-MSCommerce first, or pass
    -Token.

    .PARAMETER PolicyId
    The policy, e.g. AllowSelfServicePurchase.

    .PARAMETER ProductId
    The product, e.g. CFQ7TTC0KP0N (Power Automate per user). Get-MSCommerceProductPolicies lists
    them.

    .PARAMETER OfferType
    An offer type instead of a product.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .PARAMETER TenantId
    The customer tenant(s) to read: tenant ids (GUIDs) or domains, for a partner (MSP) signed in once
    with Connect-MSCommerce at its own tenant (the multi-tenant app, or the partner admin's delegated
    GDAP sign-in). Without it, the connection's own tenant. One tenant: the output is as without it.
    Several tenants: the library reads this one product (or offer type) in each tenant (a fleet get
    of the single-product resource, not a listing filtered afterwards); each object gets a TenantId
    property first (PSTypeNames MSCommerce.TenantProductPolicy#Listing and
    MSCommerce.TenantProductPolicy, shown with a TenantId column), the
    progress bar counts tenants, and a tenant where it cannot be read (app not consented, no role,
    the tenant or the product not found) is a non-terminating error (ErrorId
    MSCommerce.Tenant.<Reason>, the tenant as its target) while the other tenants go on.

    .PARAMETER TenantThrottleLimit
    With several -TenantId: how many tenants are read at once, 1 to 64 (default 4).

    .EXAMPLE
    Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N

    Gets the policy setting for a specific product.

    .EXAMPLE
    Get-MSCommerceProductPolicy AllowSelfServicePurchase CFQ7TTC0KP0N

    The same, with positional parameters.

    .EXAMPLE
    Get-MSCommerceProductPolicy AllowSelfServicePurchase CFQ7TTC0KP0N -TenantId (Get-Content tenants.txt) | Where-Object PolicyValue -ne Disabled | Select-Object TenantId, PolicyValue

    An MSP lists the customer tenants of tenants.txt where Power Automate per user can still be
    bought by users.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.ProductPolicy (with several -TenantId, MSCommerce.TenantProductPolicy#Listing: the same
    with TenantId)

    .LINK
    Get-MSCommerceProductPolicies

    .LINK
    Update-MSCommerceProductPolicy

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding(DefaultParameterSetName = 'Product')]
    [OutputType('MSCommerce.ProductPolicy')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $PolicyId,

        [Parameter(ParameterSetName = 'Product', Mandatory = $true, Position = 1)]
        [string] $ProductId,

        [Parameter(ParameterSetName = 'OfferType', Mandatory = $true)]
        [string] $OfferType,

        [Parameter(Position = 2)]
        [string] $Token,

        # Customer tenants (Fleet.ps1), and how many of them are read at once.
        [Parameter()] [ValidateNotNullOrEmpty()] [string[]] $TenantId,
        [Parameter()] [ValidateRange(1, 64)] [int] $TenantThrottleLimit
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.ProductPolicy' -Activity 'Reading the product policy' -Request @{
        resource          = $(if ($PSCmdlet.ParameterSetName -eq 'OfferType') { 'offerTypePolicy' } else { 'productPolicy' })
        policyId          = $PolicyId
        productId         = $ProductId
        offerType         = $OfferType
        accessToken       = $Token
        tenants           = $TenantId
        tenantConcurrency = $(if ($PSBoundParameters.ContainsKey('TenantThrottleLimit')) { $TenantThrottleLimit } else { $null })
    }
}
