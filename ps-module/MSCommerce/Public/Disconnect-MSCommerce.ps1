function Disconnect-MSCommerce {
    <#
    .SYNOPSIS
    Signs out: forgets the sign-in and tokens of Connect-MSCommerce in this PowerShell session.

    .DESCRIPTION
    Disconnect-MSCommerce drops the connection of the current PowerShell session. Later cmdlets need
    Connect-MSCommerce again, or -Token. It writes nothing to the output.

    .EXAMPLE
    Disconnect-MSCommerce

    Signs out.

    .INPUTS
    None.

    .OUTPUTS
    None.

    .LINK
    Connect-MSCommerce

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param()

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation disconnect
}
