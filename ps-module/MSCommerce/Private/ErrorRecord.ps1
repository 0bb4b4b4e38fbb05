# ErrorRecords for the native library's errors: ErrorId MSCommerce.<Code>, the mapped category, one-line
# messages with the HTTP status, the service's message and the correlation id.

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

function script:Format-MSCommerceErrorMessage {
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

function script:New-MSCommerceErrorRecord {
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

