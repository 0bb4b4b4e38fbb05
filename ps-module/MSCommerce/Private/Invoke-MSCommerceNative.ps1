# The one dispatcher every public function calls: each request goes to the native library
# (Answer.ps1); answers become output objects (Output.ps1) or ErrorRecords (ErrorRecord.ps1); a
# started sign-in is finished by SignIn.ps1.

function script:Get-MSCommerceRequestTarget {
    <#
    .SYNOPSIS
    The object an error is about: the product, offer type, policy, resource or flow of a request.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request
    )

    # An absent key reads as $null (no .Contains: a Dictionary[string, object] has none that
    # PowerShell can call).
    foreach ($key in @('productId', 'offerType', 'policyId', 'resource', 'flow')) {
        if (-not [string]::IsNullOrEmpty([string]$Request[$key])) {
            return $Request[$key]
        }
    }
    $null
}

function script:Write-MSCommerceCallError {
    <#
    .SYNOPSIS
    The error policy: connect, NotConnected and Authentication end the command (nothing else can
    work); any other error is written for its request, so one bad product does not stop a pipeline.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [string] $Operation,

        [Parameter(Mandatory = $true)]
        [hashtable] $Call,

        [AllowNull()]
        [object] $TargetObject,

        # The call was the whole command (a baseline file's): any error ends it.
        [switch] $Terminating
    )

    $errorObject = $Call.Answer.error
    if ($null -eq $errorObject) {
        $errorObject = New-Object -TypeName PSObject -Property @{
            code    = Get-MSCommerceCodeName -Code $Call.Code
            message = 'The MSCommerce native library reported an error without details.'
        }
    }
    $name = [string]$errorObject.code
    if ($Terminating -and $name -eq 'InvalidArgument' -and $null -ne $TargetObject) {
        # The library names what is wrong in the file; the message also names the file.
        $errorObject = New-Object -TypeName PSObject -Property @{
            code    = $name
            message = "Baseline file '$TargetObject': $([string]$errorObject.message)"
        }
    }
    $record = New-MSCommerceErrorRecord -ErrorObject $errorObject -TargetObject $TargetObject
    if ($Terminating -or $Operation -eq 'connect' -or $name -eq 'NotConnected' -or $name -eq 'Authentication') {
        $Caller.ThrowTerminatingError($record)
    }
    $Caller.WriteError($record)
}

function script:Invoke-MSCommerceNative {
    <#
    .SYNOPSIS
    Sends each request to the native library and writes the answers as output objects (with a
    PSTypeName), verbose lines and ErrorRecords; several requests show progress.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        # bulk: a bulk update or baseline apply through the library's steps (Bulk.ps1).
        [Parameter(Mandatory = $true)]
        [ValidateSet('connect', 'get', 'update', 'disconnect', 'bulk')]
        [string] $Operation,

        [AllowEmptyCollection()]
        [System.Collections.IDictionary[]] $Request = @(),

        [string] $TypeName,

        [AllowNull()]
        [object] $TargetObject,

        [string] $Activity = 'MSCommerce',

        # A baseline file whose text becomes each request's baseline (Test-, Sync-MSCommerceBaseline).
        [string] $InFile,

        # The file a baseline export is written to (Export-MSCommerceBaseline), with -Force and -PassThru.
        [string] $OutFile,

        [switch] $Force,

        [switch] $PassThru,

        # Any error ends the command (the call is the whole command: a baseline file's).
        [switch] $Terminating
    )

    # A request naming tenants (-TenantId, Fleet.ps1) goes the same way: one tenant becomes its
    # tenantId, several a fleet run.
    $tenants = @($Request | Where-Object { $null -ne $_['tenants'] }).Count -gt 0
    if ($Operation -eq 'bulk' -or $tenants -or -not [string]::IsNullOrEmpty($InFile) -or -not [string]::IsNullOrEmpty($OutFile)) {
        Invoke-MSCommerceFileOrBulk -Bound $PSBoundParameters
        return
    }

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
                $target = Get-MSCommerceRequestTarget -Request $item
            }
            if ($total -gt 1) {
                Write-Progress -Activity $Activity -Status "$target ($index of $total)" -PercentComplete ([int](100 * ($index - 1) / $total))
            }

            $call = Invoke-MSCommerceNativeCall -Operation $Operation -Request $item
            if ($Operation -eq 'connect' -and $call.Code -eq 0 -and [string]$item['step'] -eq 'start') {
                $call = Wait-MSCommerceSignIn -Request $item -Started $call
            }

            if ($call.Code -ne 0 -or $null -ne $call.Answer.error) {
                Write-MSCommerceCallError -Caller $Caller -Operation $Operation -Call $call -TargetObject $target -Terminating:$Terminating
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
