function Get-MSCommercePolicy {
    <#
    .SYNOPSIS
    Gets one MSCommerce policy, such as AllowSelfServicePurchase: its description and default value.

    .DESCRIPTION
    Get-MSCommercePolicy returns the policy's PolicyId, Description and DefaultValue (type name
    MSCommerce.Policy): whether the policy is enabled or disabled by default, based on your
    organization. Run Connect-MSCommerce first, or pass -Token.

    .PARAMETER PolicyId
    The policy. The known policy is AllowSelfServicePurchase.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .EXAMPLE
    Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase

    Shows the description of the AllowSelfServicePurchase policy and its default status, based on
    your organization.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.Policy

    .LINK
    Get-MSCommercePolicies

    .LINK
    Get-MSCommerceProductPolicies

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding()]
    [OutputType('MSCommerce.Policy')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string] $PolicyId,

        [Parameter(Position = 1)]
        [string] $Token
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.Policy' -TargetObject $PolicyId -Request @{
        resource    = 'policy'
        policyId    = $PolicyId
        accessToken = $Token
    }
}
