# Output objects: the PSTypeName the format view and scripts key on, local times, and the product
# cache the -ProductId completer offers.

# Product ids and names of the last listing, for the -ProductId argument completer.
$script:MSCommerceProductCache = @{}

function Add-MSCommerceTypeName {
    <#
    .SYNOPSIS
    Inserts the PSTypeName of an output object (a product listing item without ProductId is a
    non-product scope item).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [object] $InputObject,

        [string] $TypeName
    )

    if ([string]::IsNullOrEmpty($TypeName) -or $InputObject -isnot [System.Management.Automation.PSObject]) {
        return $InputObject
    }
    $name = $TypeName
    $names = $InputObject.PSObject.Properties.Name
    if ($name -eq 'MSCommerce.ProductPolicy' -and $names -notcontains 'ProductId' -and $names -contains 'Scope') {
        $name = 'MSCommerce.ScopePolicy'
    }
    $InputObject.PSObject.TypeNames.Insert(0, $name)
    if ($name -eq 'MSCommerce.Connection' -and $names -contains 'ExpiresOn' -and $null -ne $InputObject.ExpiresOn) {
        # The library answers RFC 3339 text. PowerShell 7's ConvertFrom-Json turns it into a
        # [datetime] by itself, Windows PowerShell 5.1's leaves a string: both become the same local
        # [datetime], so scripts compare it with Get-Date alike on every edition.
        $expires = $InputObject.ExpiresOn
        if ($expires -is [datetime]) {
            $InputObject.ExpiresOn = $expires.ToLocalTime()
        }
        else {
            $parsed = [System.DateTimeOffset]::MinValue
            $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal
            if ([System.DateTimeOffset]::TryParse([string]$expires, [System.Globalization.CultureInfo]::InvariantCulture, $styles, [ref] $parsed)) {
                $InputObject.ExpiresOn = $parsed.LocalDateTime
            }
        }
    }
    if ($name -eq 'MSCommerce.ProductPolicy' -and $names -contains 'ProductId') {
        $script:MSCommerceProductCache[[string]$InputObject.ProductId] = [string]$InputObject.ProductName
    }
    $InputObject
}

