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

    .EXAMPLE
    Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N

    Gets the policy setting for a specific product.

    .EXAMPLE
    Get-MSCommerceProductPolicy AllowSelfServicePurchase CFQ7TTC0KP0N

    The same, with positional parameters.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.ProductPolicy

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
        [string] $Token
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.ProductPolicy' -Request @{
        resource    = $(if ($PSCmdlet.ParameterSetName -eq 'OfferType') { 'offerTypePolicy' } else { 'productPolicy' })
        policyId    = $PolicyId
        productId   = $ProductId
        offerType   = $OfferType
        accessToken = $Token
    }
}
