function Update-MSCommerceProductPolicy {
    <#
    .SYNOPSIS
    Enables or disables a policy, such as self-service purchase, for one or more products.

    .DESCRIPTION
    Update-MSCommerceProductPolicy sets the policy value of products (or of an offer type) and
    returns the updated objects (MSCommerce.ProductPolicy). Give the new value either with -Value
    (Enabled, Disabled or OnlyTrialsWithoutPaymentMethod) or with -Enabled ($True, $False, 'True' or
    'False', in any case).

    -ProductId takes several ids, and PolicyId and ProductId bind from the pipeline by property name,
    so the objects of Get-MSCommerceProductPolicies can be piped in. When several products change,
    a progress bar shows how far it got. An error for one product (for example an unknown id) is
    written for that product and the others go on; each error carries the HTTP status and the
    correlation id of the request.

    It supports -WhatIf and -Confirm (ConfirmImpact Medium). The signed-in account needs the Global
    administrator or Billing administrator role.

    .PARAMETER PolicyId
    The policy, e.g. AllowSelfServicePurchase. Binds from the PolicyId property of piped objects.

    .PARAMETER ProductId
    One or more products, e.g. CFQ7TTC0KP0N. Binds from the ProductId property of piped objects.

    .PARAMETER OfferType
    An offer type to update instead of products.

    .PARAMETER Enabled
    $True or 'True' enables the policy for the product, $False or 'False' disables it (any case).
    Anything else is an error.

    .PARAMETER Value
    The new policy value: Enabled, Disabled or OnlyTrialsWithoutPaymentMethod.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .EXAMPLE
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $True

    Enables the policy setting for a specific product.

    .EXAMPLE
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $False

    Disables the policy setting for a specific product.

    .EXAMPLE
    Import-Module -Name MSCommerce
    Connect-MSCommerce #sign-in with your global or billing administrator account when prompted
    $product = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | where {$_.ProductName -match 'Power Automate'}
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $product.ProductID -Enabled $false

    Imports the MSCommerce module, signs in with your account, gets the ProductId for Power Automate,
    and then disables AllowSelfServicePurchase for that product. When the filter matches several
    products, all of them are disabled.

    .EXAMPLE
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value OnlyTrialsWithoutPaymentMethod

    Allows only trials without a payment method for the product.

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object PolicyValue -eq 'Enabled' | Update-MSCommerceProductPolicy -Value Disabled -WhatIf

    Shows which products would be disabled, without changing anything. Drop -WhatIf to disable them.

    .INPUTS
    Objects with PolicyId and ProductId properties, such as the output of
    Get-MSCommerceProductPolicies.

    .OUTPUTS
    MSCommerce.ProductPolicy

    .LINK
    Get-MSCommerceProductPolicies

    .LINK
    Get-MSCommerceProductPolicy

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding(DefaultParameterSetName = 'Enum', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('MSCommerce.ProductPolicy')]
    param(
        [Parameter(Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [string] $PolicyId,

        [Parameter(ParameterSetName = 'Enum', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [Parameter(ParameterSetName = 'Toggle', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [string[]] $ProductId,

        [Parameter(ParameterSetName = 'OfferTypeEnum', Mandatory = $true)]
        [Parameter(ParameterSetName = 'OfferTypeToggle', Mandatory = $true)]
        [string] $OfferType,

        [Parameter(ParameterSetName = 'Toggle', Mandatory = $true)]
        [Parameter(ParameterSetName = 'OfferTypeToggle', Mandatory = $true)]
        [string] $Enabled,

        [Parameter(ParameterSetName = 'Enum', Mandatory = $true)]
        [Parameter(ParameterSetName = 'OfferTypeEnum', Mandatory = $true)]
        [ValidateSet('Enabled', 'Disabled', 'OnlyTrialsWithoutPaymentMethod')]
        [string] $Value,

        [Parameter()]
        [string] $Token
    )

    begin {
        Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
        $requests = New-Object -TypeName System.Collections.Generic.List[System.Collections.IDictionary]
    }

    process {
        $byOfferType = $PSCmdlet.ParameterSetName -like 'OfferType*'
        $targets = if ($byOfferType) { @($OfferType) } else { @($ProductId) }
        $change = if ($PSBoundParameters.ContainsKey('Value')) { "Set policy '$PolicyId' to '$Value'" } else { "Set policy '$PolicyId' to Enabled = '$Enabled'" }
        foreach ($target in $targets) {
            if ($PSCmdlet.ShouldProcess($(if ($byOfferType) { "offer type '$target'" } else { "product '$target'" }), $change)) {
                $requests.Add(@{
                    policyId    = [string]$PolicyId
                    productId   = $(if ($byOfferType) { $null } else { [string]$target })
                    offerType   = $(if ($byOfferType) { [string]$target } else { $null })
                    value       = $Value
                    enabled     = $(if ($PSBoundParameters.ContainsKey('Enabled')) { [string]$Enabled } else { $null })
                    accessToken = $Token
                })
            }
        }
    }

    end {
        Invoke-MSCommerceNative -Caller $PSCmdlet -Operation update -TypeName 'MSCommerce.ProductPolicy' -Activity 'Updating product policies' -Request $requests.ToArray()
    }
}
