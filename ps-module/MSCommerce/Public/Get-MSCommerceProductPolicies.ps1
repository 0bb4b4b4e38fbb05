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

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase

    Lists all available self-service purchase products and the status of each.

    .EXAMPLE
    $product = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | where {$_.ProductName -match 'Power Automate'}

    Gets the products whose name matches Power Automate (there may be several).

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object PolicyValue -eq 'Enabled' | Update-MSCommerceProductPolicy -Value Disabled

    Disables self-service purchase for every product that still allows it.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.ProductPolicy

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
        [string] $Scope
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.ProductPolicy' -TargetObject $PolicyId -Request @{
        resource    = 'productPolicies'
        policyId    = $PolicyId
        scope       = $Scope
        accessToken = $Token
    }
}
