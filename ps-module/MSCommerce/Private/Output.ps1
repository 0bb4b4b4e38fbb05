# Output objects: the PSTypeName the format view and scripts key on, local times, and the product
# cache the -ProductId completer offers.

# Product ids and names of the last listing, for the -ProductId argument completer.
$script:MSCommerceProductCache = @{}

function script:ConvertTo-MSCommerceDisplayText {
    <#
    .SYNOPSIS
    Service text (a product name) for a line on the host: control characters, line breaks and
    bidirectional overrides escaped (\x1b, \u{202e}), so that a name cannot act on the terminal.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Text
    )

    if ([string]::IsNullOrEmpty($Text)) {
        return ''
    }
    $evaluator = [System.Text.RegularExpressions.MatchEvaluator] {
        param($match)
        $code = [int][char]$match.Value
        if ($code -lt 0x100) {
            return '\x' + $code.ToString('x2')
        }
        '\u{' + $code.ToString('x4') + '}'
    }
    [regex]::Replace($Text, '[\x00-\x1F\x7F-\x9F\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]', $evaluator)
}

function script:ConvertTo-MSCommerceLocalTime {
    <#
    .SYNOPSIS
    A time of an answer (a [datetime], or RFC 3339 text) as a local [datetime]; text that is not a
    time is returned as it is.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Value
    )

    if ($Value -is [datetime]) {
        return $Value.ToLocalTime()
    }
    $parsed = [System.DateTimeOffset]::MinValue
    $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal
    if ([System.DateTimeOffset]::TryParse([string]$Value, [System.Globalization.CultureInfo]::InvariantCulture, $styles, [ref] $parsed)) {
        return $parsed.LocalDateTime
    }
    $Value
}

function script:Add-MSCommerceTypeName {
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
    # The library answers RFC 3339 text. PowerShell 7's ConvertFrom-Json turns it into a [datetime]
    # by itself, Windows PowerShell 5.1's leaves a string: both become the same local [datetime],
    # so scripts compare it with Get-Date alike on every edition.
    $dates = @{ 'MSCommerce.Connection' = 'ExpiresOn'; 'MSCommerce.Baseline' = 'ExportedAt' }
    $date = $dates[$name]
    if ($null -ne $date -and $names -contains $date -and $null -ne $InputObject.$date) {
        $InputObject.$date = ConvertTo-MSCommerceLocalTime -Value $InputObject.$date
    }
    if ($name -eq 'MSCommerce.ProductPolicy' -and $names -contains 'ProductId') {
        $script:MSCommerceProductCache[[string]$InputObject.ProductId] = [string]$InputObject.ProductName
    }
    $InputObject
}

