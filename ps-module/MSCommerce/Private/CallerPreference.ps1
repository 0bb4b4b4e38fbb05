# Compiled cmdlets see the preference variables of the script or function that calls them; a
# script module's functions see only the global ones. So that a script's dry run is dry
# ($WhatIfPreference), its try/catch fires ($ErrorActionPreference = 'Stop') and its -Verbose-like
# settings are heard, every public function copies the caller's preferences into its own scope
# first. The functions it calls (the dispatcher, Write-Progress, ShouldProcess) then see them.

# Preference variable -> the common parameter that, when given, wins over it.
$script:MSCommercePreferenceParameters = @{
    ErrorActionPreference = 'ErrorAction'
    WarningPreference     = 'WarningAction'
    InformationPreference = 'InformationAction'
    VerbosePreference     = 'Verbose'
    DebugPreference       = 'Debug'
    ConfirmPreference     = 'Confirm'
    WhatIfPreference      = 'WhatIf'
    ProgressPreference    = 'ProgressAction'
}

function Use-MSCommerceCallerPreference {
    <#
    .SYNOPSIS
    First thing every public function does: loads the module's private code on its first use
    (Import-MSCommercePrivateScript), then copies the caller's preference variables into the scope
    of the public function that calls this.

    .PARAMETER Cmdlet
    The public function's $PSCmdlet: its SessionState is the session state of that function's
    caller, read at the caller's current scope (a script's, a function's or the global one).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Cmdlet
    )

    Import-MSCommercePrivateScript
    $bound = @($Cmdlet.MyInvocation.BoundParameters.Keys)
    foreach ($name in $script:MSCommercePreferenceParameters.Keys) {
        if ($bound -contains $script:MSCommercePreferenceParameters[$name]) {
            continue
        }
        $variable = $Cmdlet.SessionState.PSVariable.Get($name)
        if ($null -ne $variable) {
            # Scope 1 is the public function (this function's caller in the module's session
            # state). Set-Variable supports ShouldProcess: the copied $WhatIfPreference must not
            # turn the copy itself into a dry run.
            Set-Variable -Name $name -Value $variable.Value -Scope 1 -WhatIf:$false -Confirm:$false
        }
    }
}
