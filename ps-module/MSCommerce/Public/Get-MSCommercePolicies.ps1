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

    .PARAMETER TenantId
    One customer tenant to read the policies of: its id (a GUID) or a domain such as
    contoso.onmicrosoft.com, for a partner (MSP) signed in once with Connect-MSCommerce at its own
    tenant (the multi-tenant app, or the partner admin's delegated GDAP sign-in). Without it, the
    connection's own tenant. The output is the same objects.

    .EXAMPLE
    Get-MSCommercePolicies

    Lists the policies and their default values.

    .EXAMPLE
    Get-MSCommercePolicies | Select-Object -ExpandProperty PolicyId

    Lists only the policy ids.

    .EXAMPLE
    Get-MSCommercePolicies -TenantId contoso.onmicrosoft.com

    An MSP lists the policies of a customer tenant and their default values there.

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
        [string] $Token,

        # A customer tenant (Fleet.ps1: the request's tenantId).
        [Parameter()] [ValidateNotNullOrEmpty()] [string] $TenantId
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.Policy' -Request @{
        resource    = 'policies'
        accessToken = $Token
        tenants     = $TenantId
    }
}
