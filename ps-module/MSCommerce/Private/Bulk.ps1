# Bulk changes (several products, a baseline) through the library's steps (docs/bulk-and-baselines.md
# section 1): a what-if plan when ShouldProcess has something to show or ask, then `step: start`,
# `poll` with a progress bar until the run has finished, `cancel` when the command is stopped (Ctrl+C)
# so the job is not left running, and the per-product results as output objects and ErrorRecords.

function script:Test-MSCommerceShouldAsk {
    <#
    .SYNOPSIS
    Whether ShouldProcess would show or ask something: -WhatIf, or a confirmation that the
    command's ConfirmImpact and $ConfirmPreference call for.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller
    )

    # The public function's preference variables (its own, or the caller's it copied) are visible
    # here through the call's scopes.
    if ($WhatIfPreference) {
        return $true
    }
    $preference = [System.Management.Automation.ConfirmImpact]$ConfirmPreference
    if ($preference -eq [System.Management.Automation.ConfirmImpact]::None) {
        return $false
    }
    $binding = @($Caller.MyInvocation.MyCommand.ScriptBlock.Attributes | Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] })
    $impact = [System.Management.Automation.ConfirmImpact]::Medium
    if ($binding.Count -gt 0) {
        $impact = $binding[0].ConfirmImpact
    }
    $impact -ge $preference
}

function script:Copy-MSCommerceRequest {
    <#
    .SYNOPSIS
    A copy of a request with some fields set (a $null value removes the field).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [hashtable] $Set = @{}
    )

    $copy = @{}
    foreach ($key in @($Request.Keys)) {
        $copy[[string]$key] = $Request[$key]
    }
    foreach ($key in @($Set.Keys)) {
        $copy[[string]$key] = $Set[$key]
    }
    $copy
}

function script:Select-MSCommerceApprovedPlan {
    <#
    .SYNOPSIS
    Asks ShouldProcess for each product of a what-if plan that would change ("What if:" lines under
    -WhatIf, a question per product under -Confirm); answers the ids it allowed.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [AllowEmptyCollection()]
        [object[]] $Plan = @()
    )

    $approved = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($item in $Plan) {
        if ([string]$item.Status -ne 'WouldUpdate') {
            continue
        }
        # Service text on the host: escaped.
        $target = "product '$($item.ProductId)'"
        if (-not [string]::IsNullOrEmpty([string]$item.ProductName)) {
            $target = "product '$($item.ProductId)' ($($item.ProductName))"
        }
        $action = "Set policy '$($item.PolicyId)' from '$($item.PreviousValue)' to '$($item.PolicyValue)'"
        if ($Caller.ShouldProcess((ConvertTo-MSCommerceDisplayText -Text $target), (ConvertTo-MSCommerceDisplayText -Text $action))) {
            $approved.Add([string]$item.ProductId)
        }
    }
    , $approved.ToArray()
}

function script:New-MSCommerceApprovedRequest {
    <#
    .SYNOPSIS
    The request restricted to the products the user allowed: their ids (a product change), or a
    baseline naming them with their planned values and leaving every other product alone.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [AllowEmptyCollection()]
        [object[]] $Plan = @(),

        [AllowEmptyCollection()]
        [string[]] $Approved = @()
    )

    $chosen = @($Plan | Where-Object { $Approved -contains [string]$_.ProductId })
    if ($null -eq $Request['baseline']) {
        return Copy-MSCommerceRequest -Request $Request -Set @{ productIds = [string[]]$Approved; allProducts = $null; exceptProductIds = $null }
    }
    $products = New-Object -TypeName System.Collections.Generic.List[object]
    foreach ($item in $chosen) {
        $products.Add(@{ ProductId = [string]$item.ProductId; PolicyValue = [string]$item.PolicyValue })
    }
    $baseline = @{ PolicyId = [string]$chosen[0].PolicyId; Products = $products.ToArray(); OtherProducts = 'Keep' }
    Copy-MSCommerceRequest -Request $Request -Set @{ baseline = $baseline }
}

function script:Remove-MSCommerceMalformedId {
    <#
    .SYNOPSIS
    Takes the ids the library refuses outright out of a product change: one (a character other
    than letters, digits, '-', '_' and '.') would make it refuse the whole bulk request. Each is
    sent alone instead, which the library refuses before any request, so the error names that
    product and the others go on. Answers the request without them ($null when none is left).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request
    )

    $ids = @($Request['productIds'] | ForEach-Object { [string]$_ })
    $malformed = @($ids | Where-Object { $_ -notmatch '^[A-Za-z0-9._-]+$' })
    if ($malformed.Count -eq 0) {
        return $Request
    }
    foreach ($id in $malformed) {
        $call = Invoke-MSCommerceNativeCall -Operation update -Request (Copy-MSCommerceRequest -Request $Request -Set @{ productId = $id; productIds = $null; concurrency = $null })
        if ($call.Code -ne 0 -or $null -ne $call.Answer.error) {
            Write-MSCommerceCallError -Caller $Caller -Operation update -Call $call -TargetObject $id
        }
    }
    $valid = @($ids | Where-Object { $malformed -notcontains $_ })
    if ($valid.Count -eq 0) {
        return $null
    }
    Copy-MSCommerceRequest -Request $Request -Set @{ productIds = [string[]]$valid }
}

function script:Write-MSCommerceBulkProgress {
    <#
    .SYNOPSIS
    The progress bar of a bulk run from its progress object (Done of Total), or of a fleet run
    (TenantsDone of Tenants).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Activity,

        [Parameter(Mandatory = $true)]
        [object] $State
    )

    $done = [int]$State.Done
    $total = [int]$State.Total
    $status = '{0} of {1} products: {2} updated, {3} unchanged, {4} failed' -f $done, $total, [int]$State.Updated, [int]$State.Unchanged, [int]$State.Failed
    if ($null -ne $State.Tenants) {
        $done = [int]$State.TenantsDone
        $total = [int]$State.Tenants
        $status = '{0} of {1} tenants: {2} succeeded, {3} failed' -f $done, $total, [int]$State.Succeeded, [int]$State.Failed
        if ([int]$State.Drifted -gt 0) {
            $status += ', {0} drifted' -f [int]$State.Drifted
        }
    }
    $percent = 100
    if ($total -gt 0) {
        $percent = [int][Math]::Min(100, [Math]::Floor(100 * $done / $total))
    }
    Write-Progress -Activity $Activity -Status $status -PercentComplete $percent
}

function script:Invoke-MSCommerceBulkCall {
    <#
    .SYNOPSIS
    One msc_update (or, for a fleet get, msc_get) call of a bulk run: @{ Value = its answer's
    value }, or $null after writing its error (terminating for a baseline file's run).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [AllowNull()]
        [object] $TargetObject,

        [switch] $Terminating,

        [ValidateSet('get', 'update')]
        [string] $Operation = 'update'
    )

    $call = Invoke-MSCommerceNativeCall -Operation $Operation -Request $Request
    if ($call.Code -ne 0 -or $null -ne $call.Answer.error) {
        Write-MSCommerceCallError -Caller $Caller -Operation $Operation -Call $call -TargetObject $TargetObject -Terminating:$Terminating
        return $null
    }
    @{ Value = $call.Answer.value }
}

function script:Invoke-MSCommerceBulkSteps {
    <#
    .SYNOPSIS
    Runs a bulk request with the library's steps: start, poll until finished (with progress), and
    cancel when stopped early (Ctrl+C, a terminating error). Answers the finished object, or $null
    after writing the error when the run could not start. A fleet run (Fleet.ps1) too.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [Parameter(Mandatory = $true)]
        [string] $Activity,

        [string] $TypeName,

        # How a failed call is reported: Invoke-MSCommerceBulkCall's Caller, TargetObject,
        # Terminating, and Operation (update, or get for a fleet read).
        [Parameter(Mandatory = $true)]
        [hashtable] $Failure,

        # A what-if plan: nothing to report when it is cancelled early.
        [switch] $WhatIfPlan
    )

    $started = Invoke-MSCommerceBulkCall @Failure -Request (Copy-MSCommerceRequest -Request $Request -Set @{ step = 'start' })
    if ($null -eq $started) {
        return $null
    }
    $state = $started.Value
    $ended = $false
    try {
        while (-not $state.Finished) {
            Write-MSCommerceBulkProgress -Activity $Activity -State $state
            $polled = Invoke-MSCommerceBulkCall @Failure -Request @{ step = 'poll' }
            if ($null -eq $polled) {
                $ended = $true
                return $null
            }
            $state = $polled.Value
        }
        $ended = $true
    }
    finally {
        if (-not $ended) {
            # Stopped while the job runs: no further write starts, those in flight finish, and the
            # answer reports every product (not written: Failed, "cancelled").
            $operation = 'update'
            if ($Failure.ContainsKey('Operation')) {
                $operation = [string]$Failure['Operation']
            }
            $call = Invoke-MSCommerceNativeCall -Operation $operation -Request @{ step = 'cancel' }
            if ($call.Code -eq 0 -and $null -ne $call.Answer.value -and -not $WhatIfPlan) {
                $state = $call.Answer.value
                Write-MSCommerceBulkStopped -Caller $Caller -State $state -TypeName $TypeName
            }
        }
        Write-Progress -Activity $Activity -Completed
    }
    $state
}

function script:Write-MSCommerceBulkStopped {
    <#
    .SYNOPSIS
    A bulk or fleet run cancelled early: the summary on the host, then its results (they reach the
    pipeline when the run ended for another reason than Ctrl+C: a stopped pipeline drops what is
    written to it, hence the summary on the host first).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [object] $State,

        [string] $TypeName
    )

    $results = @($State.Results | Where-Object { $null -ne $_ })
    if ($null -ne $State.Tenants) {
        # Tenants never started are errors MSCommerce.Tenant.Cancelled.
        $cancelled = @($results | Where-Object { [string]$_.Reason -eq 'Cancelled' } | ForEach-Object { [string]$_.TenantId })
        $text = 'Stopped: {0} of {1} tenants done, {2} not started; run the command again to finish (it writes only what still differs).' -f ($results.Count - $cancelled.Count), $results.Count, $cancelled.Count
        if ($cancelled.Count -gt 0) {
            $text += ' Not started: ' + ($cancelled -join ', ')
        }
        Write-MSCommerceHostWarning -Caller $Caller -Text $text
        Write-MSCommerceFleetResult -Caller $Caller -Result $results -TypeName $TypeName
        return
    }
    $updated = @($results | Where-Object { [string]$_.Status -eq 'Updated' } | ForEach-Object { [string]$_.ProductId })
    $failed = @($results | Where-Object { [string]$_.Status -eq 'Failed' }).Count
    $text = 'Stopped: {0} of {1} products updated, {2} not written or failed; run the command again to finish (it writes only what still differs).' -f $updated.Count, $results.Count, $failed
    if ($updated.Count -gt 0) {
        $text += ' Updated: ' + ($updated -join ', ')
    }
    Write-MSCommerceHostWarning -Caller $Caller -Text $text
    Write-MSCommerceBulkResult -Caller $Caller -Result $results -TypeName $TypeName
}

function script:Write-MSCommerceHostWarning {
    <#
    .SYNOPSIS
    After Ctrl+C, what the cancelled run did, on the host (the only stream a stopped pipeline
    still shows): a warning line, service text escaped.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [string] $Text
    )

    try {
        if ($null -ne $Caller.Host -and $null -ne $Caller.Host.UI) {
            $Caller.Host.UI.WriteWarningLine((ConvertTo-MSCommerceDisplayText -Text $Text))
        }
    }
    catch {
        Write-Debug -Message "The summary of the cancelled run could not be shown: $($_.Exception.Message)"
    }
}

function script:Write-MSCommerceBulkResult {
    <#
    .SYNOPSIS
    Writes per-product results: the products done as output objects (PreviousValue and Status
    added to the usual properties), then one non-terminating ErrorRecord per failed product (its
    id as the target), so that -ErrorAction Stop still lets the others through first.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [AllowEmptyCollection()]
        [object[]] $Result = @(),

        [string] $TypeName
    )

    $failed = @()
    foreach ($item in $Result) {
        if ($null -eq $item) {
            continue
        }
        if ([string]$item.Status -eq 'Failed') {
            $failed += $item
            continue
        }
        Add-MSCommerceTypeName -InputObject $item -TypeName $TypeName
    }
    foreach ($item in $failed) {
        $errorObject = $item.Error
        if ($null -eq $errorObject) {
            $errorObject = New-Object -TypeName PSObject -Property @{ code = 'Internal'; message = "Product '$($item.ProductId)' was not changed (no reason given)." }
        }
        $Caller.WriteError((New-MSCommerceErrorRecord -ErrorObject $errorObject -TargetObject ([string]$item.ProductId)))
    }
}

function script:Merge-MSCommerceBulkResult {
    <#
    .SYNOPSIS
    The results of a run restricted to the approved products, completed with the plan's other
    products that are not declined ones (Unchanged, Failed), in the plan's order.
    #>
    [CmdletBinding()]
    param(
        [AllowEmptyCollection()]
        [object[]] $Plan = @(),

        [AllowEmptyCollection()]
        [object[]] $Result = @()
    )

    $byId = @{}
    foreach ($item in $Result) {
        $byId[([string]$item.ProductId).ToUpperInvariant()] = $item
    }
    foreach ($item in $Plan) {
        $key = ([string]$item.ProductId).ToUpperInvariant()
        if ($byId.ContainsKey($key)) {
            $byId[$key]
            $byId.Remove($key)
        }
        elseif ([string]$item.Status -ne 'WouldUpdate') {
            $item
        }
    }
    foreach ($item in $Result) {
        if ($byId.ContainsKey(([string]$item.ProductId).ToUpperInvariant())) {
            $item
        }
    }
}

function script:Invoke-MSCommerceBulk {
    <#
    .SYNOPSIS
    A bulk update or baseline apply: a what-if plan and ShouldProcess per product that would change
    when -WhatIf or -Confirm is in effect, then the run of what was allowed, and its results.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [string] $TypeName = 'MSCommerce.ProductPolicy',

        [string] $Activity = 'Updating product policies',

        [AllowNull()]
        [object] $TargetObject,

        [switch] $Terminating
    )

    if ($null -ne $Request['productIds']) {
        $Request = Remove-MSCommerceMalformedId -Caller $Caller -Request $Request
        if ($null -eq $Request) {
            return
        }
    }
    $failure = @{ Caller = $Caller; TargetObject = $TargetObject; Terminating = [bool]$Terminating }
    $plan = $null
    if (Test-MSCommerceShouldAsk -Caller $Caller) {
        $planned = Invoke-MSCommerceBulkCall @failure -Request (Copy-MSCommerceRequest -Request $Request -Set @{ whatIf = $true })
        if ($null -eq $planned) {
            return
        }
        $plan = @($planned.Value | Where-Object { $null -ne $_ })
        $approved = Select-MSCommerceApprovedPlan -Caller $Caller -Plan $plan
        if ($WhatIfPreference -or $approved.Count -eq 0) {
            # Nothing is written: the plan's failures are still errors (an unknown id, a product
            # gone from the tenant); under -WhatIf nothing else is output.
            $shown = @($plan | Where-Object { [string]$_.Status -eq 'Failed' -or (-not $WhatIfPreference -and [string]$_.Status -eq 'Unchanged') })
            Write-MSCommerceBulkResult -Caller $Caller -Result $shown -TypeName $TypeName
            return
        }
        $Request = New-MSCommerceApprovedRequest -Request $Request -Plan $plan -Approved $approved
    }

    $state = Invoke-MSCommerceBulkSteps -Caller $Caller -Request $Request -Activity $Activity -TypeName $TypeName -Failure $failure
    if ($null -eq $state) {
        return
    }
    $results = @($state.Results | Where-Object { $null -ne $_ })
    if ($null -ne $plan) {
        $results = @(Merge-MSCommerceBulkResult -Plan $plan -Result $results)
    }
    Write-MSCommerceBulkResult -Caller $Caller -Result $results -TypeName $TypeName
}
