function Test-MSCommerceBaseline {
    <#
    .SYNOPSIS
    Compares the tenant's policy values with a baseline file and outputs the differences.

    .DESCRIPTION
    Test-MSCommerceBaseline lists the products of the baseline's policy once and outputs one
    MSCommerce.BaselineDrift object per difference (nothing when the tenant matches the file):
    ProductId, ProductName, Expected (the file's value), Actual (the tenant's) and Reason:

      Differs        the file names the product and its value differs;
      NotInBaseline  the file does not name the product, its OtherProducts is a value (for example
                     Disabled) and the product's value differs from it (a product Microsoft added);
      NotInTenant    the file names a product the tenant does not have (Actual is empty).

    It changes nothing. With -Quiet it outputs only $true (the tenant matches the file) or $false.
    A file that is missing or not a valid baseline (for example a misspelt property name) is a
    terminating error naming the problem. A relative -Path is relative to the current location.

    .PARAMETER Path
    The baseline file (Export-MSCommerceBaseline writes one).

    .PARAMETER Quiet
    Output $true when there is no difference, $false otherwise, instead of the differences.

    .PARAMETER Token
    An access token for this call alone, instead of the sign-in of Connect-MSCommerce.

    .EXAMPLE
    Test-MSCommerceBaseline -Path baseline.json

    Shows each product whose value is not what baseline.json says, and why.

    .EXAMPLE
    if (-not (Test-MSCommerceBaseline -Path baseline.json -Quiet)) { Write-Warning 'Self-service purchase drifted from the baseline' }

    Warns when the tenant does not match the baseline.

    .INPUTS
    None.

    .OUTPUTS
    MSCommerce.BaselineDrift, or System.Boolean with -Quiet

    .LINK
    Export-MSCommerceBaseline

    .LINK
    Sync-MSCommerceBaseline

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding()]
    [OutputType('MSCommerce.BaselineDrift', [bool])]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Path,

        [Parameter()]
        [switch] $Quiet,

        [Parameter()]
        [string] $Token
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    $request = @{
        resource    = 'baselineDrift'
        accessToken = $Token
    }
    $drift = Invoke-MSCommerceNative -Caller $PSCmdlet -Operation get -Request $request -InFile $Path -TypeName 'MSCommerce.BaselineDrift'
    if ($Quiet) {
        return (@($drift).Count -eq 0)
    }
    $drift
}
