function Get-MSCommercePolicies {
    <#
    .SYNOPSIS
    Lists the MSCommerce policies, such as AllowSelfServicePurchase, with their default values.

    .DESCRIPTION
    Get-MSCommercePolicies returns one object per policy of the tenant, with the properties PolicyId,
    Description and DefaultValue (type name MSCommerce.Policy). Run Connect-MSCommerce first, or
    pass -Token.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .EXAMPLE
    Get-MSCommercePolicies

    Lists the policies and their default values.

    .EXAMPLE
    Get-MSCommercePolicies | Select-Object -ExpandProperty PolicyId

    Lists only the policy ids.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.Policy

    .LINK
    Get-MSCommercePolicy

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding()]
    [OutputType('MSCommerce.Policy')]
    param(
        [Parameter(Position = 0)]
        [string] $Token
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.Policy' -Request @{
        resource    = 'policies'
        accessToken = $Token
    }
}
