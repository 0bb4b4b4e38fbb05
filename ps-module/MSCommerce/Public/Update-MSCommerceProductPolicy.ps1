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
    so the objects of Get-MSCommerceProductPolicies can be piped in. Several products are one bulk
    change: the products are listed once, those already at the value are not written, the others
    are written several at a time (-ThrottleLimit; the service's throttling slows everyone down
    instead of failing products), and a second listing verifies the result. A progress bar shows how
    far it got; Ctrl+C stops it cleanly (writes in flight finish, nothing further is written) and
    the products already done are still reported.

    Each product of a bulk change is an output object with two more properties: PreviousValue (its
    value before) and Status (Updated, or Unchanged when it already had the value). A product that
    could not be set (for example an unknown id, or one the service kept refusing) is a
    non-terminating error with the product id as its target, and the others go on; each error
    carries the HTTP status and the correlation id of the request. A single product gives the
    object it always gave.

    It supports -WhatIf and -Confirm (ConfirmImpact Medium): for several products, -WhatIf lists
    each product that would change (and writes nothing), -Confirm asks for each of them and only
    the confirmed ones are written. The signed-in account needs the Global administrator or Billing
    administrator role.

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

    .PARAMETER ThrottleLimit
    For several products: the most writes in flight at once, 1 to 64 (default 8). The service's
    throttling lowers it for a while by itself.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .PARAMETER TenantId
    The customer tenant(s) to change: tenant ids (GUIDs) or domains such as contoso.onmicrosoft.com,
    for a partner (MSP) signed in once with Connect-MSCommerce at its own tenant (the multi-tenant
    app's -ClientId with a secret or certificate: it needs admin consent in each customer tenant; or
    the partner admin's delegated sign-in with GDAP access to each customer). Without it, the
    connection's own tenant. One tenant: the output is as without it. Several tenants: every product
    given (-ProductId, or the pipeline) is changed in each tenant as one bulk change per tenant (a
    single product too: each object then has PreviousValue and Status); the objects get a TenantId
    property first (PSTypeName MSCommerce.TenantProductPolicy, shown with a TenantId column), the
    progress bar counts tenants, Ctrl+C stops the run (a tenant being written finishes, no further
    tenant starts), and a tenant that cannot be reached (app not consented, no role, not found) is a
    non-terminating error (ErrorId MSCommerce.Tenant.<Reason>, the tenant as its target) while the
    other tenants go on. -WhatIf shows, and -Confirm asks, once per tenant that would change; a rerun
    writes nothing. With -OfferType, the offer type is set in each tenant (one question for all).

    .PARAMETER TenantThrottleLimit
    With several -TenantId: how many tenants are changed at once, 1 to 64 (default 4). Each of them
    writes up to -ThrottleLimit products at once.

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
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled -WhatIf

    Shows which products would be disabled ("What if:" lines), without changing anything.

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled | Format-Table ProductId, ProductName, PreviousValue, PolicyValue, Status

    Disables self-service purchase for every product of the tenant in one bulk change and shows
    what each product was before. Running it again writes nothing (every Status is Unchanged).

    .EXAMPLE
    Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | Where-Object ProductId -ne CFQ7TTC0H9MP | Update-MSCommerceProductPolicy -Value Disabled -ThrottleLimit 4 -ErrorVariable failed

    Disables every product but one, at most 4 writes at a time; the products that could not be set
    are in $failed (their ids in $failed.TargetObject) and can be tried again.

    .EXAMPLE
    $tenants = (Get-Content tenants.txt) -notmatch '^\s*(#|$)'
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Disabled -TenantId $tenants -TenantThrottleLimit 8 -ErrorVariable failed | Where-Object Status -eq Updated

    An MSP disables self-service purchase of Power Automate per user in every customer tenant of
    tenants.txt (one a line, # comments), eight tenants at a time, and shows the tenants where it
    changed; the tenants that could not be reached are in $failed ($failed.TargetObject: their ids).

    .EXAMPLE
    Get-MSCommerceProductPolicies AllowSelfServicePurchase | Update-MSCommerceProductPolicy -Value Disabled -TenantId contoso.onmicrosoft.com, fabrikam.onmicrosoft.com -WhatIf

    Shows, per customer tenant, how many of the partner tenant's products would be disabled there,
    without changing anything.

    .INPUTS
    Objects with PolicyId and ProductId properties, such as the output of
    Get-MSCommerceProductPolicies.

    .OUTPUTS
    MSCommerce.ProductPolicy (with several -TenantId, MSCommerce.TenantProductPolicy: the same with
    TenantId)

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

        [Parameter(ParameterSetName = 'Enum')]
        [Parameter(ParameterSetName = 'Toggle')]
        [ValidateRange(1, 64)]
        [int] $ThrottleLimit,

        [Parameter()]
        [string] $Token,

        # Customer tenants (Fleet.ps1), and how many of them are changed at once.
        [Parameter()] [ValidateNotNullOrEmpty()] [string[]] $TenantId,
        [Parameter()] [ValidateRange(1, 64)] [int] $TenantThrottleLimit
    )

    begin {
        Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
        $requests = New-Object -TypeName System.Collections.Generic.List[System.Collections.IDictionary]
        # Product ids by policy, in the order they came, each once (any case).
        $products = New-Object -TypeName System.Collections.Specialized.OrderedDictionary
        $seen = New-Object -TypeName 'System.Collections.Generic.HashSet[string]' -ArgumentList ([System.StringComparer]::OrdinalIgnoreCase)
    }

    process {
        $byOfferType = $PSCmdlet.ParameterSetName -like 'OfferType*'
        $targets = if ($byOfferType) { @($OfferType) } else { @($ProductId) }
        $change = if ($PSBoundParameters.ContainsKey('Value')) { "Set policy '$PolicyId' to '$Value'" } else { "Set policy '$PolicyId' to Enabled = '$Enabled'" }
        foreach ($target in $targets) {
            $request = @{
                policyId          = [string]$PolicyId
                productId         = $(if ($byOfferType) { $null } else { [string]$target })
                offerType         = $(if ($byOfferType) { [string]$target } else { $null })
                value             = $Value
                enabled           = $(if ($PSBoundParameters.ContainsKey('Enabled')) { [string]$Enabled } else { $null })
                concurrency       = $(if ($PSBoundParameters.ContainsKey('ThrottleLimit')) { $ThrottleLimit } else { $null })
                accessToken       = $Token
                # One tenant becomes the request's tenantId; several, a fleet run (Fleet.ps1).
                tenants           = $TenantId
                tenantConcurrency = $(if ($PSBoundParameters.ContainsKey('TenantThrottleLimit')) { $TenantThrottleLimit } else { $null })
            }
            if ($byOfferType) {
                if ($PSCmdlet.ShouldProcess("offer type '$target'", $change)) {
                    $requests.Add($request)
                }
                continue
            }
            # Products are collected: one is changed as always, several in one bulk change (end).
            if ($seen.Add("$PolicyId`n$target")) {
                if (-not $products.Contains($request.policyId)) {
                    $products[$request.policyId] = New-Object -TypeName System.Collections.Generic.List[System.Collections.IDictionary]
                }
                $products[$request.policyId].Add($request)
            }
        }
    }

    end {
        $operation = 'update'
        # Several tenants: always a bulk change (ShouldProcess per tenant, from its what-if plan).
        if ($seen.Count -eq 1 -and @($TenantId).Count -lt 2) {
            # The single update of always (its answer has no PreviousValue or Status).
            $single = $products[0][0]
            $single.concurrency = $null
            $change = if ($PSBoundParameters.ContainsKey('Value')) { "Set policy '$($single.policyId)' to '$Value'" } else { "Set policy '$($single.policyId)' to Enabled = '$Enabled'" }
            if ($PSCmdlet.ShouldProcess("product '$($single.productId)'", $change)) {
                $requests.Add($single)
            }
        }
        elseif ($seen.Count -ge 1) {
            # One bulk request per policy: the first product's request with every product's id.
            $operation = 'bulk'
            foreach ($group in $products.Values) {
                $bulk = $group[0]
                $bulk.productIds = [string[]]@($group | ForEach-Object { $_.productId })
                $bulk.productId = $null
                $requests.Add($bulk)
            }
        }
        Invoke-MSCommerceNative -Caller $PSCmdlet -Operation $operation -TypeName 'MSCommerce.ProductPolicy' -Activity 'Updating product policies' -Request $requests.ToArray()
    }
}
