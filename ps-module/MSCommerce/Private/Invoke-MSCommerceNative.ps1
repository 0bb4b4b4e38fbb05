# The one dispatcher every public function calls: request hashtable -> JSON -> native call ->
# verbose lines, output objects or ErrorRecords.

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

# ErrorCategory for each error code.
$script:MSCommerceErrorCategories = @{
    InvalidArgument = [System.Management.Automation.ErrorCategory]::InvalidArgument
    NotConnected    = [System.Management.Automation.ErrorCategory]::AuthenticationError
    Authentication  = [System.Management.Automation.ErrorCategory]::AuthenticationError
    Forbidden       = [System.Management.Automation.ErrorCategory]::PermissionDenied
    NotFound        = [System.Management.Automation.ErrorCategory]::ObjectNotFound
    Throttled       = [System.Management.Automation.ErrorCategory]::LimitsExceeded
    Network         = [System.Management.Automation.ErrorCategory]::ConnectionError
    Timeout         = [System.Management.Automation.ErrorCategory]::OperationTimeout
}

# Exception type for each error code (System.Exception for the others, and for a type this
# process cannot resolve: New-Object only finds types of assemblies already loaded, and
# AuthenticationException lives in System.Net.Primitives on .NET, in System on .NET Framework).
$script:MSCommerceExceptionTypes = @{
    InvalidArgument = 'System.ArgumentException'
    NotConnected    = 'System.InvalidOperationException'
    Authentication  = 'System.Security.Authentication.AuthenticationException'
    Forbidden       = 'System.UnauthorizedAccessException'
    NotFound        = 'System.Management.Automation.ItemNotFoundException'
    Timeout         = 'System.TimeoutException'
}

# Product ids and names of the last listing, for the -ProductId argument completer.
$script:MSCommerceProductCache = @{}

function Get-MSCommerceCodeName {
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

function ConvertFrom-MSCommerceAnswer {
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

function Format-MSCommerceErrorMessage {
    <#
    .SYNOPSIS
    One line: the message, the HTTP status, the service's message and the correlation id (the same
    shape as the CLI's error line).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $ErrorObject
    )

    $message = [string]$ErrorObject.message
    if ([string]::IsNullOrEmpty($message)) {
        $message = "MSCommerce call failed ($([string]$ErrorObject.code))."
    }
    $status = $ErrorObject.httpStatus
    if ($null -ne $status -and -not $message.Contains("HTTP $status")) {
        $message += " (HTTP $status)"
    }
    $serviceMessage = [string]$ErrorObject.serviceMessage
    if (-not [string]::IsNullOrEmpty($serviceMessage) -and -not $message.Contains($serviceMessage)) {
        $message += ": $serviceMessage"
    }
    $correlationId = [string]$ErrorObject.correlationId
    if (-not [string]::IsNullOrEmpty($correlationId) -and -not $message.Contains($correlationId)) {
        $message += " [correlation id $correlationId]"
    }
    $message
}

function New-MSCommerceErrorRecord {
    <#
    .SYNOPSIS
    An ErrorRecord for a native error: ErrorId MSCommerce.<Code>, the mapped category, the target.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $ErrorObject,

        [AllowNull()]
        [object] $TargetObject
    )

    $name = [string]$ErrorObject.code
    if ([string]::IsNullOrEmpty($name)) {
        $name = 'Internal'
    }
    $message = Format-MSCommerceErrorMessage -ErrorObject $ErrorObject

    $exceptionType = $script:MSCommerceExceptionTypes[$name] -as [type]
    if ($null -eq $exceptionType) {
        $exceptionType = [System.Exception]
    }
    try {
        $exception = New-Object -TypeName $exceptionType.FullName -ArgumentList $message -ErrorAction Stop
    }
    catch {
        $exception = New-Object -TypeName System.Exception -ArgumentList $message
    }
    $exception.Data['MSCommerce.Code'] = $name
    foreach ($field in @('httpStatus', 'correlationId', 'serviceMessage', 'retryAfterSeconds')) {
        $value = $ErrorObject.$field
        if ($null -ne $value) {
            $exception.Data["MSCommerce.$field"] = $value
        }
    }

    $category = $script:MSCommerceErrorCategories[$name]
    if ($null -eq $category) {
        $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    }

    $record = New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList @(
        $exception,
        "MSCommerce.$name",
        $category,
        $TargetObject
    )
    if ($name -eq 'NotConnected' -or $name -eq 'Authentication') {
        $record.ErrorDetails = New-Object -TypeName System.Management.Automation.ErrorDetails -ArgumentList $message
        $record.ErrorDetails.RecommendedAction = 'Run Connect-MSCommerce, or pass -Token.'
    }
    $record
}

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

function ConvertTo-MSCommerceRequestJson {
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

function Invoke-MSCommerceNativeCall {
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

    $session = $script:MSCommerceSession
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

function Show-MSCommerceSignInPrompt {
    <#
    .SYNOPSIS
    Shows what the user must do to finish a device-code or interactive sign-in.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Flow,

        [AllowNull()]
        [object] $Prompt
    )

    if ($null -eq $Prompt) {
        return
    }
    if ($Flow -eq 'deviceCode') {
        $Prompt.PSObject.TypeNames.Insert(0, 'MSCommerce.DeviceCodePrompt')
        if (-not [string]::IsNullOrEmpty([string]$Prompt.Message)) {
            Write-Host ([string]$Prompt.Message)
        }
        else {
            Write-Host "To sign in, open $($Prompt.VerificationUri) and enter the code $($Prompt.UserCode)."
        }
        return
    }

    $Prompt.PSObject.TypeNames.Insert(0, 'MSCommerce.InteractivePrompt')
    $url = [string]$Prompt.AuthorizeUrl
    if ([string]::IsNullOrEmpty($url)) {
        return
    }
    Write-Host 'Opening the browser to sign in. If it does not open, visit this address:'
    Write-Host $url
    try {
        # Start-Process supports ShouldProcess: a session's $WhatIfPreference or a low
        # $ConfirmPreference must not keep the browser closed while the sign-in waits for it.
        Start-Process -FilePath $url -ErrorAction Stop -WhatIf:$false -Confirm:$false
    }
    catch {
        Write-Warning ("Could not open a browser: $($_.Exception.Message). On a computer without a " +
            'browser, press Ctrl+C and use Connect-MSCommerce -UseDeviceCode.')
    }
}

function Invoke-MSCommerceNative {
    <#
    .SYNOPSIS
    The dispatcher: sends each request to the native library and turns the answers into output
    objects (with a PSTypeName), verbose lines and ErrorRecords.

    .DESCRIPTION
    Terminating errors (through the caller's ThrowTerminatingError) for connect and for NotConnected
    or Authentication; other errors are written per request with the caller's WriteError, so one
    bad product does not stop a pipeline. A connect request with "step": "start" (device code,
    interactive) shows the prompt, then polls with short sleeps while the answer is Pending, so
    Ctrl+C works between polls. Several requests show progress.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [ValidateSet('connect', 'get', 'update', 'disconnect')]
        [string] $Operation,

        [AllowEmptyCollection()]
        [System.Collections.IDictionary[]] $Request = @(),

        [string] $TypeName,

        [AllowNull()]
        [object] $TargetObject,

        [string] $Activity = 'MSCommerce'
    )

    if ($Operation -eq 'disconnect') {
        $session = $script:MSCommerceSession
        if ($null -ne $session -and $session.IsOpen) {
            $code = $session.Disconnect()
            Write-Verbose -Message "msc_disconnect: $(Get-MSCommerceCodeName -Code $code)"
        }
        return
    }

    $total = $Request.Count
    $index = 0
    # The progress bar is completed on every way out: a terminating error, a WriteError that
    # -ErrorAction Stop turns into one, Ctrl+C.
    try {
        foreach ($item in $Request) {
            $index++
            $target = $TargetObject
            if ($null -eq $target) {
                # An absent key reads as $null (no .Contains: a Dictionary[string, object] has none
                # that PowerShell can call).
                foreach ($key in @('productId', 'offerType', 'policyId', 'resource', 'flow')) {
                    if (-not [string]::IsNullOrEmpty([string]$item[$key])) {
                        $target = $item[$key]
                        break
                    }
                }
            }
            if ($total -gt 1) {
                Write-Progress -Activity $Activity -Status "$target ($index of $total)" -PercentComplete ([int](100 * ($index - 1) / $total))
            }

            $call = Invoke-MSCommerceNativeCall -Operation $Operation -Request $item

            if ($Operation -eq 'connect' -and $call.Code -eq 0 -and [string]$item['step'] -eq 'start') {
                $flow = [string]$item['flow']
                Show-MSCommerceSignInPrompt -Flow $flow -Prompt $call.Answer.value
                $poll = @{}
                foreach ($key in @($item.Keys)) {
                    $poll[$key] = $item[$key]
                }
                $poll['step'] = 'poll'
                $waited = $false
                try {
                    do {
                        Start-Sleep -Milliseconds 500
                        $call = Invoke-MSCommerceNativeCall -Operation $Operation -Request $poll
                    } while ($call.Code -eq $script:MSCommercePendingCode)
                    $waited = $true
                }
                finally {
                    if (-not $waited) {
                        # Ctrl+C stopped the wait: close the sign-in's loopback listener; an existing
                        # connection stays. Straight to the shim: a stopping pipeline takes no output.
                        $poll['step'] = 'cancel'
                        try {
                            $null = $script:MSCommerceSession.Invoke($Operation, (ConvertTo-MSCommerceRequestJson -Request $poll))
                        }
                        catch {
                            $null = $_
                        }
                    }
                }
            }

            if ($call.Code -ne 0 -or $null -ne $call.Answer.error) {
                $errorObject = $call.Answer.error
                if ($null -eq $errorObject) {
                    $errorObject = New-Object -TypeName PSObject -Property @{
                        code    = Get-MSCommerceCodeName -Code $call.Code
                        message = 'The MSCommerce native library reported an error without details.'
                    }
                }
                $record = New-MSCommerceErrorRecord -ErrorObject $errorObject -TargetObject $target
                $name = [string]$errorObject.code
                if ($Operation -eq 'connect' -or $name -eq 'NotConnected' -or $name -eq 'Authentication') {
                    $Caller.ThrowTerminatingError($record)
                }
                $Caller.WriteError($record)
                continue
            }

            if ($Operation -eq 'connect') {
                $connection = $call.Answer.value
                if ($null -ne $connection) {
                    Write-Verbose -Message ("Connected: account '$($connection.Account)', tenant '$($connection.TenantId)', " +
                        "flow '$($connection.Flow)', environment '$($connection.Environment)', expires '$($connection.ExpiresOn)'")
                }
                Write-Host 'Connection established successfully'
                continue
            }

            foreach ($value in @($call.Answer.value)) {
                if ($null -ne $value) {
                    Add-MSCommerceTypeName -InputObject $value -TypeName $TypeName
                }
            }
        }
    }
    finally {
        if ($total -gt 1) {
            Write-Progress -Activity $Activity -Completed
        }
    }
}
