# Many tenants in one command (docs/fleet.md): -TenantId on Test- and Sync-MSCommerceBaseline, on
# Get-MSCommerceProductPolicies, Get-MSCommerceProductPolicy and Update-MSCommerceProductPolicy, and
# (one tenant) on Get-MSCommercePolicies, Get-MSCommercePolicy and Export-MSCommerceBaseline. One
# tenant is the request's tenantId (everything else as for the connection's own tenant); several are
# a fleet request (tenants, tenantConcurrency) run through the library's steps like a bulk change
# (Bulk.ps1: start, poll with a progress bar, cancel on Ctrl+C). Each product or drift row of a
# tenant is output with a TenantId property (PSTypeName MSCommerce.Tenant<Name> before the
# single-tenant one); a tenant that failed as a whole is a non-terminating ErrorRecord
# (MSCommerce.Tenant.<Reason>, the tenant as its target) and the other tenants go on.

# ErrorCategory for each Reason of a failed tenant (docs/fleet.md section 3) that is not an error
# code of ErrorRecord.ps1 (Forbidden, NotFound, Network, Timeout, InvalidArgument, NotConnected).
$script:MSCommerceTenantErrorCategories = @{
    NotConsented   = [System.Management.Automation.ErrorCategory]::PermissionDenied
    TenantNotFound = [System.Management.Automation.ErrorCategory]::ObjectNotFound
    SignIn         = [System.Management.Automation.ErrorCategory]::AuthenticationError
    Throttled      = [System.Management.Automation.ErrorCategory]::ResourceUnavailable
    Service        = [System.Management.Automation.ErrorCategory]::ResourceUnavailable
    Cancelled      = [System.Management.Automation.ErrorCategory]::OperationStopped
}

# How many tenants of the last fleet run failed as a whole (Test-MSCommerceBaseline -Quiet).
$script:MSCommerceFleetFailed = 0

function script:Set-MSCommerceTenantField {
    <#
    .SYNOPSIS
    The tenants of a request as the library takes them: none or an empty list (the connection's
    tenant: both fields removed), one (tenantId), several (tenants, with tenantConcurrency). The
    library checks the ids. Answers whether the request is for several tenants.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request
    )

    $tenants = @($Request['tenants'] | Where-Object { $null -ne $_ })
    if ($tenants.Count -gt 1) {
        $Request['tenants'] = [string[]]$tenants
        return $true
    }
    $Request['tenants'] = $null
    $Request['tenantConcurrency'] = $null
    if ($tenants.Count -eq 1) {
        $Request['tenantId'] = [string]$tenants[0]
    }
    $false
}

function script:New-MSCommerceTenantErrorRecord {
    <#
    .SYNOPSIS
    The ErrorRecord of a tenant that failed as a whole: ErrorId MSCommerce.Tenant.<Reason>, the
    category of its Reason, the tenant id as its target.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Result
    )

    $tenant = [string]$Result.TenantId
    $reason = [string]$Result.Reason
    if ([string]::IsNullOrEmpty($reason)) {
        $reason = 'Internal'
    }
    $errorObject = $Result.Error
    if ($null -eq $errorObject) {
        $errorObject = New-Object -TypeName PSObject -Property @{ code = 'Internal'; message = "tenant '$tenant': failed ($reason)." }
    }
    $inner = New-MSCommerceErrorRecord -ErrorObject $errorObject -TargetObject $tenant
    $inner.Exception.Data['MSCommerce.TenantId'] = $tenant
    $inner.Exception.Data['MSCommerce.Reason'] = $reason
    $category = $script:MSCommerceTenantErrorCategories[$reason]
    if ($null -eq $category) {
        $category = $script:MSCommerceErrorCategories[$reason]
    }
    if ($null -eq $category) {
        $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    }
    New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList @($inner.Exception, "MSCommerce.Tenant.$reason", $category, $tenant)
}

function script:New-MSCommerceTenantProductErrorRecord {
    <#
    .SYNOPSIS
    The ErrorRecord of a product that failed in one tenant: as for one tenant (the product id as the
    target), its message naming the tenant.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $TenantId,

        [Parameter(Mandatory = $true)]
        [object] $Item
    )

    $errorObject = $Item.Error
    $message = "Product '$($Item.ProductId)' was not changed (no reason given)."
    if ($null -ne $errorObject) {
        $message = [string]$errorObject.message
    }
    $copy = New-Object -TypeName PSObject
    if ($null -ne $errorObject) {
        foreach ($property in $errorObject.PSObject.Properties) {
            $copy | Add-Member -NotePropertyName $property.Name -NotePropertyValue $property.Value
        }
    }
    $copy | Add-Member -NotePropertyName message -NotePropertyValue "tenant '$TenantId': $message" -Force
    if ($null -eq $copy.code) {
        $copy | Add-Member -NotePropertyName code -NotePropertyValue 'Internal'
    }
    $record = New-MSCommerceErrorRecord -ErrorObject $copy -TargetObject ([string]$Item.ProductId)
    $record.Exception.Data['MSCommerce.TenantId'] = $TenantId
    $record
}

function script:ConvertTo-MSCommerceTenantRow {
    <#
    .SYNOPSIS
    The product or drift rows of one tenant as output objects: TenantId first, then each row's
    properties; the PSTypeNames MSCommerce.Tenant<Name>, then the single-tenant one; a product row
    that reports no change (a listing) has MSCommerce.TenantProductPolicy#Listing before them.
    (One call per tenant, no cmdlet per row: 200 tenants of 26 products are 5200 rows.)
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string] $TenantId,

        [AllowEmptyCollection()]
        [object[]] $Item = @(),

        [string] $TypeName
    )

    $tenantType = $null
    if ($TypeName -like 'MSCommerce.*') {
        $tenantType = 'MSCommerce.Tenant' + $TypeName.Substring('MSCommerce.'.Length)
    }
    foreach ($entry in $Item) {
        $properties = [ordered]@{ TenantId = $TenantId }
        foreach ($property in $entry.PSObject.Properties) {
            $properties[$property.Name] = $property.Value
        }
        $row = [pscustomobject]$properties
        if (-not [string]::IsNullOrEmpty($TypeName)) {
            $row.PSObject.TypeNames.Insert(0, $TypeName)
        }
        if ($null -ne $tenantType) {
            $row.PSObject.TypeNames.Insert(0, $tenantType)
            if ($TypeName -eq 'MSCommerce.ProductPolicy' -and $null -eq $entry.PSObject.Properties['Status']) {
                # A product listing (nothing was changed): its own view, without PreviousValue and Status.
                $row.PSObject.TypeNames.Insert(0, "$tenantType#Listing")
            }
        }
        $row
    }
}

function script:Write-MSCommerceFleetResult {
    <#
    .SYNOPSIS
    Writes the per-tenant results of a fleet run: every tenant's rows (TenantId added; failed
    products left out), then the errors: one per tenant that failed as a whole, one per failed
    product. Counts the failed tenants in $script:MSCommerceFleetFailed.
    #>
    [CmdletBinding()]
    param(
        # One result per tenant (docs/fleet.md section 3).
        [AllowEmptyCollection()]
        [object[]] $Result = @(),

        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [string] $TypeName
    )

    $errors = New-Object -TypeName System.Collections.Generic.List[System.Management.Automation.ErrorRecord]
    foreach ($tenant in @($Result | Where-Object { $null -ne $_ })) {
        $id = [string]$tenant.TenantId
        if ([string]$tenant.Status -eq 'Failed') {
            $script:MSCommerceFleetFailed++
            if ([string]$tenant.Reason -ne 'ProductsFailed') {
                $errors.Add((New-MSCommerceTenantErrorRecord -Result $tenant))
                continue
            }
        }
        $rows = New-Object -TypeName System.Collections.Generic.List[object]
        foreach ($item in @($tenant.Value)) {
            if ($null -eq $item) {
                continue
            }
            if ([string]$item.Status -eq 'Failed') {
                $errors.Add((New-MSCommerceTenantProductErrorRecord -TenantId $id -Item $item))
                continue
            }
            $rows.Add($item)
        }
        ConvertTo-MSCommerceTenantRow -TenantId $id -Item $rows.ToArray() -TypeName $TypeName
    }
    foreach ($record in $errors) {
        $Caller.WriteError($record)
    }
}

function script:Select-MSCommerceApprovedTenant {
    <#
    .SYNOPSIS
    Asks ShouldProcess once for each tenant whose what-if plan would change something (the tenant
    as the target, the products as the action). Answers @{ Approved = tenant ids; Report = the plan's
    results to write for the tenants that are not run (failed ones; under -Confirm, those with
    nothing to change) }.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        # The finished what-if run: its Results, one per tenant.
        [Parameter(Mandatory = $true)]
        [object] $Planned
    )

    $approved = New-Object -TypeName System.Collections.Generic.List[string]
    $report = New-Object -TypeName System.Collections.Generic.List[object]
    foreach ($tenant in @($Planned.Results | Where-Object { $null -ne $_ })) {
        $items = @($tenant.Value | Where-Object { $null -ne $_ })
        $changes = @($items | Where-Object { [string]$_.Status -eq 'WouldUpdate' })
        $failedItems = @($items | Where-Object { [string]$_.Status -eq 'Failed' })
        if ($changes.Count -eq 0 -or $null -eq $tenant.Value) {
            if ($WhatIfPreference) {
                $tenant = New-Object -TypeName PSObject -Property @{ TenantId = $tenant.TenantId; Status = $tenant.Status; Reason = $tenant.Reason; Error = $tenant.Error; Value = $failedItems }
            }
            $report.Add($tenant)
            continue
        }
        $ids = @($changes | Select-Object -First 5 | ForEach-Object { [string]$_.ProductId })
        $more = ''
        if ($changes.Count -gt $ids.Count) {
            $more = ", and $($changes.Count - $ids.Count) more"
        }
        $action = "Set policy '$($changes[0].PolicyId)' of $($changes.Count) products ($($ids -join ', ')$more)"
        if ($Caller.ShouldProcess((ConvertTo-MSCommerceDisplayText -Text "tenant '$($tenant.TenantId)'"), (ConvertTo-MSCommerceDisplayText -Text $action))) {
            $approved.Add([string]$tenant.TenantId)
        }
        elseif ($WhatIfPreference -and $failedItems.Count -gt 0) {
            # Under -WhatIf a product that would fail is still an error.
            $report.Add((New-Object -TypeName PSObject -Property @{ TenantId = $tenant.TenantId; Status = 'Failed'; Reason = 'ProductsFailed'; Error = $null; Value = $failedItems }))
        }
    }
    @{ Approved = $approved.ToArray(); Report = $report.ToArray() }
}

function script:Invoke-MSCommerceFleet {
    <#
    .SYNOPSIS
    A fleet request (several tenants): a baseline apply or bulk change (update), a baseline test or
    a listing (get). For a bulk update with -WhatIf or -Confirm, a what-if plan first and
    ShouldProcess per tenant; then the run of the approved tenants through the steps, and its
    per-tenant results.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [ValidateSet('get', 'update')]
        [string] $Operation,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [string] $TypeName,

        [string] $Activity = 'MSCommerce',

        [AllowNull()]
        [object] $TargetObject
    )

    $script:MSCommerceFleetFailed = 0
    $failure = @{ Caller = $Caller; TargetObject = $TargetObject; Terminating = $true; Operation = $Operation }
    $steps = @{ Caller = $Caller; Activity = $Activity; TypeName = $TypeName; Failure = $failure }
    $report = @()
    # A single change (an offer type) has no what-if plan: the public function asked ShouldProcess.
    $bulk = $null -ne $Request['productIds'] -or $null -ne $Request['baseline'] -or $null -ne $Request['allProducts']
    if ($Operation -eq 'update' -and $bulk -and (Test-MSCommerceShouldAsk -Caller $Caller)) {
        $planned = Invoke-MSCommerceBulkSteps @steps -Request (Copy-MSCommerceRequest -Request $Request -Set @{ whatIf = $true }) -WhatIfPlan
        if ($null -eq $planned) {
            return
        }
        $selection = Select-MSCommerceApprovedTenant -Caller $Caller -Planned $planned
        $report = @($selection.Report)
        if ($WhatIfPreference -or $selection.Approved.Count -eq 0) {
            Write-MSCommerceFleetResult -Caller $Caller -Result $report -TypeName $TypeName
            return
        }
        $Request = Copy-MSCommerceRequest -Request $Request -Set @{ tenants = [string[]]$selection.Approved }
    }
    $state = Invoke-MSCommerceBulkSteps @steps -Request $Request
    if ($null -eq $state) {
        return
    }
    Write-MSCommerceFleetResult -Caller $Caller -Result (@($report) + @($state.Results)) -TypeName $TypeName
}
