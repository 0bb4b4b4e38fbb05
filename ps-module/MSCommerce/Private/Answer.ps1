# The native library's answers: return codes, request JSON, one native call and its verbose log.

# Return codes of the C ABI (native-abi.md), by number.
$script:MSCommerceCodeNames = @(
    'OK',
    'InvalidArgument',
    'NotConnected',
    'Authentication',
    'Forbidden',
    'NotFound',
    'Throttled',
    'Service',
    'Network',
    'Timeout',
    'Pending',
    'Internal'
)

$script:MSCommercePendingCode = 10

function script:Get-MSCommerceCodeName {
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [int] $Code
    )

    if ($Code -ge 0 -and $Code -lt $script:MSCommerceCodeNames.Count) {
        return $script:MSCommerceCodeNames[$Code]
    }
    'Internal'
}

function script:ConvertTo-MSCommerceRequestJson {
    <#
    .SYNOPSIS
    The request as compact JSON, leaving out fields that are null or empty.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request
    )

    $clean = @{}
    foreach ($key in @($Request.Keys)) {
        $value = $Request[$key]
        if ($null -eq $value) {
            continue
        }
        if ($value -is [string] -and $value.Length -eq 0) {
            continue
        }
        if ($value -is [System.Management.Automation.PSObject]) {
            $value = $value.PSObject.BaseObject
        }
        $clean[[string]$key] = $value
    }
    ConvertTo-Json -InputObject $clean -Compress -Depth 6
}

function script:ConvertFrom-MSCommerceAnswer {
    <#
    .SYNOPSIS
    Parses a native JSON answer. Never throws: a body that does not parse becomes an Internal error.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [int] $Code,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Json
    )

    $answer = $null
    if (-not [string]::IsNullOrEmpty($Json)) {
        try {
            # The answer is always one JSON object, so Windows PowerShell 5.1's habit of returning a
            # top-level array as one wrapped object does not apply; arrays inside it come back as
            # object[].
            $answer = ConvertFrom-Json -InputObject $Json -ErrorAction Stop
        }
        catch {
            $answer = $null
        }
    }
    if ($null -eq $answer) {
        $name = Get-MSCommerceCodeName -Code $Code
        if ($Code -eq 0) {
            $name = 'Internal'
        }
        $answer = New-Object -TypeName PSObject -Property @{
            error = New-Object -TypeName PSObject -Property @{
                code    = $name
                message = "The MSCommerce native library returned an answer that is not JSON (code $Code)."
            }
            log   = @()
        }
    }
    $answer
}

function script:Invoke-MSCommerceNativeCall {
    <#
    .SYNOPSIS
    One native call; returns @{ Code; Answer } and writes the answer's log lines as verbose output.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Operation,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request
    )

    $session = Get-MSCommerceNativeSession
    if ($null -eq $session -or -not $session.IsOpen) {
        $answer = ConvertFrom-MSCommerceAnswer -Code 11 -Json '{"error":{"code":"Internal","message":"The MSCommerce native session is closed. Import the module again."},"log":[]}'
        return @{ Code = 11; Answer = $answer }
    }

    $json = ConvertTo-MSCommerceRequestJson -Request $Request
    try {
        $result = $session.Invoke($Operation, $json)
        $code = $result.Code
        $answer = ConvertFrom-MSCommerceAnswer -Code $code -Json $result.Json
    }
    catch {
        $code = 11
        $answer = New-Object -TypeName PSObject -Property @{
            error = New-Object -TypeName PSObject -Property @{
                code    = 'Internal'
                message = "The MSCommerce native call failed: $($_.Exception.Message)"
            }
            log   = @()
        }
    }

    foreach ($line in @($answer.log)) {
        if ($null -ne $line) {
            Write-Verbose -Message ([string]$line)
        }
    }
    @{ Code = $code; Answer = $answer }
}

