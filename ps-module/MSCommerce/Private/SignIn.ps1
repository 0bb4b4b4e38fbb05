# Interactive and device-code sign-in: show the prompt, open the browser, poll until the sign-in
# ends, and cancel it on Ctrl+C.

function script:Open-MSCommerceBrowser {
    <#
    .SYNOPSIS
    Opens the authorize URL in the system browser (on Windows through the shell).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Url
    )

    # PowerShell 7's Start-Process supports ShouldProcess, and the caller's $WhatIfPreference or a
    # low $ConfirmPreference must not keep the browser closed while the sign-in waits for it.
    # Windows PowerShell 5.1's Start-Process has no -WhatIf or -Confirm, so the preferences are set
    # for this scope instead of passing those parameters.
    $WhatIfPreference = $false
    $ConfirmPreference = 'None'
    try {
        Start-Process -FilePath $Url -ErrorAction Stop
    }
    catch {
        Write-Warning ("Could not open a browser: $($_.Exception.Message). On a computer without a " +
            'browser, press Ctrl+C and use Connect-MSCommerce -UseDeviceCode.')
    }
}

function script:Show-MSCommerceSignInPrompt {
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
        $message = [string]$Prompt.PSObject.Properties['Message'].Value
        if ([string]::IsNullOrEmpty($message)) {
            $message = "To sign in, open $($Prompt.PSObject.Properties['VerificationUri'].Value) and enter the code $($Prompt.PSObject.Properties['UserCode'].Value)."
        }
        Write-Host $message
        return
    }

    $Prompt.PSObject.TypeNames.Insert(0, 'MSCommerce.InteractivePrompt')
    $url = [string]$Prompt.PSObject.Properties['AuthorizeUrl'].Value
    if ([string]::IsNullOrEmpty($url)) {
        return
    }
    Write-Host 'Opening the browser to sign in. If it does not open, visit this address:'
    Write-Host $url
    Open-MSCommerceBrowser -Url $url
}

function script:Wait-MSCommerceSignIn {
    <#
    .SYNOPSIS
    Finishes a started device-code or interactive sign-in: shows its prompt, then polls while the
    answer is Pending; returns the last call (@{ Code; Answer }).

    .DESCRIPTION
    Each poll is a short native call followed by a short sleep, so Ctrl+C works between them. When
    the wait is stopped (Ctrl+C), the sign-in is cancelled: the library closes its loopback
    listener and keeps an existing connection.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [Parameter(Mandatory = $true)]
        [hashtable] $Started
    )

    $poll = @{}
    foreach ($key in @($Request.Keys)) {
        $poll[$key] = $Request[$key]
    }
    $poll['step'] = 'poll'
    $call = $Started
    $waited = $false
    try {
        # Inside the try: a prompt that fails (e.g. a warning turned into an error) cancels too.
        Show-MSCommerceSignInPrompt -Flow ([string]$Request['flow']) -Prompt $Started.Answer.value
        do {
            Start-Sleep -Milliseconds 500
            $call = Invoke-MSCommerceNativeCall -Operation connect -Request $poll
        } while ($call.Code -eq $script:MSCommercePendingCode)
        $waited = $true
    }
    finally {
        if (-not $waited) {
            # Straight to the shim: a stopping pipeline takes no output.
            $poll['step'] = 'cancel'
            try {
                $null = $script:MSCommerceSession.Invoke('connect', (ConvertTo-MSCommerceRequestJson -Request $poll))
            }
            catch {
                $null = $_
            }
        }
    }
    $call
}
