function Export-MSCommerceBaseline {
    <#
    .SYNOPSIS
    Saves the tenant's current policy values of every product to a baseline file.

    .DESCRIPTION
    Export-MSCommerceBaseline lists the products of a policy (AllowSelfServicePurchase by default)
    and writes a baseline file: JSON with the policy, the tenant, the time, the tool, each product's
    id, name and value, and the rule for every product the file does not name (-OtherProducts),
    including products Microsoft adds later. The file is UTF-8 without a byte order mark, indented,
    for people to review and edit and for other tools to read (docs/bulk-and-baselines.md).

    Test-MSCommerceBaseline compares the tenant with the file, and Sync-MSCommerceBaseline sets the
    tenant to it. A guard against products that appear later is a baseline with -OtherProducts
    Disabled, applied on a schedule (about_MSCommerce, BULK CHANGES AND BASELINES).

    An existing file is kept unless -Force is given. It supports -WhatIf and -Confirm (nothing is
    read from the service under -WhatIf). A relative -Path is relative to the current location.

    .PARAMETER Path
    The baseline file to write.

    .PARAMETER OtherProducts
    The rule for the products the file does not name, now and later: Keep (default: leave them
    alone), Disabled, Enabled or OnlyTrialsWithoutPaymentMethod (every such product must have that
    value).

    .PARAMETER PolicyId
    The policy, e.g. AllowSelfServicePurchase (the default).

    .PARAMETER Force
    Overwrite the file when it exists.

    .PARAMETER PassThru
    Also output the baseline (MSCommerce.Baseline).

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .PARAMETER TenantId
    One customer tenant to export: its id (a GUID) or a domain such as contoso.onmicrosoft.com, for
    a partner (MSP) signed in once with Connect-MSCommerce at its own tenant (the multi-tenant app,
    or the partner admin's delegated GDAP sign-in). Without it, the connection's own tenant. The
    file's TenantId is that customer's, so Sync-MSCommerceBaseline applies it to that tenant only;
    set TenantId to null in the file to use it as a template for several tenants.

    .EXAMPLE
    Export-MSCommerceBaseline -OtherProducts Disabled -Path baseline.json

    Writes the current value of every product to baseline.json, with every product the file does
    not name (such as products Microsoft adds later) to be Disabled. Review and edit it, then apply
    it with Sync-MSCommerceBaseline.

    .EXAMPLE
    Export-MSCommerceBaseline -Path C:\MSCommerceGuard\baseline.json -Force -PassThru | Select-Object -ExpandProperty Products

    Overwrites the file and shows the products it lists.

    .EXAMPLE
    Export-MSCommerceBaseline -Path contoso.json -TenantId contoso.onmicrosoft.com -OtherProducts Disabled
    Test-MSCommerceBaseline -Path contoso.json -TenantId contoso.onmicrosoft.com

    An MSP saves a customer tenant's current values (the file names that tenant), to compare it
    with them later.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.Baseline (with -PassThru)

    .LINK
    Test-MSCommerceBaseline

    .LINK
    Sync-MSCommerceBaseline

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('MSCommerce.Baseline')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Path,

        [Parameter()]
        [ValidateSet('Keep', 'Disabled', 'Enabled', 'OnlyTrialsWithoutPaymentMethod')]
        [string] $OtherProducts = 'Keep',

        [Parameter()]
        [string] $PolicyId = 'AllowSelfServicePurchase',

        [Parameter()]
        [switch] $Force,

        [Parameter()]
        [switch] $PassThru,

        [Parameter()]
        [string] $Token,

        # A customer tenant (Fleet.ps1: the request's tenantId).
        [Parameter()] [ValidateNotNullOrEmpty()] [string] $TenantId
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    $request = @{
        resource      = 'baseline'
        policyId      = $PolicyId
        otherProducts = $OtherProducts
        accessToken   = $Token
        tenants       = $TenantId
    }
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -Request $request -OutFile $Path -Force:$Force -PassThru:$PassThru -TypeName 'MSCommerce.Baseline'
}
