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

    .PARAMETER TenantId
    One customer tenant to read the policy of: its id (a GUID) or a domain such as
    contoso.onmicrosoft.com, for a partner (MSP) signed in once with Connect-MSCommerce at its own
    tenant (the multi-tenant app, or the partner admin's delegated GDAP sign-in). Without it, the
    connection's own tenant. The output is the same objects.

    .EXAMPLE
    Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase

    Shows the description of the AllowSelfServicePurchase policy and its default status, based on
    your organization.

    .EXAMPLE
    Get-MSCommercePolicy AllowSelfServicePurchase -TenantId 0b7c5e1a-0000-4000-8000-000000000001

    An MSP reads the policy's default value in a customer tenant, given by its id.

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
        [string] $Token,

        # A customer tenant (Fleet.ps1: the request's tenantId).
        [Parameter()] [ValidateNotNullOrEmpty()] [string] $TenantId
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.Policy' -TargetObject $PolicyId -Request @{
        resource    = 'policy'
        policyId    = $PolicyId
        accessToken = $Token
        tenants     = $TenantId
    }
}
