function Sync-MSCommerceBaseline {
    <#
    .SYNOPSIS
    Sets the tenant's policy values to what a baseline file says, writing only the differences.

    .DESCRIPTION
    Sync-MSCommerceBaseline applies a baseline file as one bulk change: it lists the products of the
    baseline's policy once, writes only the products whose value differs from the file (the file's
    value for the products it names; its OtherProducts value for every other product, unless
    OtherProducts is Keep), several at a time (-ThrottleLimit), then lists them again to verify. A
    progress bar shows how far it got; Ctrl+C stops it cleanly (writes in flight finish, nothing
    further is written) and the products already done are still reported.

    It outputs one MSCommerce.ProductPolicy object per product of the plan with PreviousValue (the
    value before) and Status (Updated, or Unchanged). A product that could not be set, or that the
    file names but the tenant does not have, is a non-terminating error with the product id as its
    target, and the others go on. A file that is missing or not a valid baseline is a terminating
    error, and nothing is written.

    Applied on a schedule, a baseline with "OtherProducts": "Disabled" is a guard: products
    Microsoft adds later (Enabled) are turned off at the next run (examples/guard).

    It supports -WhatIf (lists each product that would change and writes nothing) and -Confirm
    (asks for each of them; only the confirmed ones are written). A relative -Path is relative to
    the current location.

    .PARAMETER Path
    The baseline file (Export-MSCommerceBaseline writes one).

    .PARAMETER ThrottleLimit
    The most writes in flight at once, 1 to 64 (default 8). The service's throttling lowers it for
    a while by itself.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .EXAMPLE
    Sync-MSCommerceBaseline -Path baseline.json -WhatIf

    Shows each product that would change, without changing anything.

    .EXAMPLE
    Sync-MSCommerceBaseline -Path baseline.json | Where-Object Status -eq Updated

    Applies the baseline and shows the products it changed, with their previous values.

    .EXAMPLE
    $results = Sync-MSCommerceBaseline -Path baseline.json -ErrorAction SilentlyContinue -ErrorVariable failures

    Applies the baseline; the products that could not be set are in $failures (their ids in
    $failures.TargetObject), the others in $results.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.ProductPolicy

    .LINK
    Export-MSCommerceBaseline

    .LINK
    Test-MSCommerceBaseline

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('MSCommerce.ProductPolicy')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Path,

        [Parameter()]
        [ValidateRange(1, 64)]
        [int] $ThrottleLimit,

        [Parameter()]
        [string] $Token
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    $request = @{
        concurrency = $(if ($PSBoundParameters.ContainsKey('ThrottleLimit')) { $ThrottleLimit } else { $null })
        accessToken = $Token
    }
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation bulk -Request $request -InFile $Path -TypeName 'MSCommerce.ProductPolicy' -Activity 'Applying the baseline'
}
