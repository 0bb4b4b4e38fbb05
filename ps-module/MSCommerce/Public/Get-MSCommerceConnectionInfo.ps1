function Get-MSCommerceConnectionInfo {
    <#
    .SYNOPSIS
    Shows the current connection: account, tenant, client id, sign-in flow, environment and expiry.

    .DESCRIPTION
    Get-MSCommerceConnectionInfo returns the connection of Connect-MSCommerce (type name
    MSCommerce.Connection) with the properties Account, TenantId, ClientId, Flow, Environment and
    ExpiresOn. It never shows the token. Not connected, it fails with the NotConnected error.

    .PARAMETER Token
    Describe this access token instead of the session's connection.

    .EXAMPLE
    Get-MSCommerceConnectionInfo

    Shows who is signed in, to which tenant, and until when.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.Connection

    .LINK
    Connect-MSCommerce

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding()]
    [OutputType('MSCommerce.Connection')]
    param(
        [Parameter(Position = 0)]
        [string] $Token
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -TypeName 'MSCommerce.Connection' -Request @{
        resource    = 'connection'
        accessToken = $Token
    }
}
