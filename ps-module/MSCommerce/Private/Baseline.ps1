# Baseline files (docs/bulk-and-baselines.md section 3), and the dispatcher's routing of file and bulk
# requests (Invoke-MSCommerceFileOrBulk): read for Test- and Sync-MSCommerceBaseline,
# written by Export-MSCommerceBaseline as the library answers them (property order kept, indented,
# UTF-8 without a byte order mark on every edition). Paths are PowerShell's: relative ones resolve
# against the current location. A file that cannot be read or written ends the command.

function script:New-MSCommerceFileErrorRecord {
    <#
    .SYNOPSIS
    An ErrorRecord about a baseline file: ErrorId MSCommerce.<Id>, the file as the target.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Id,

        [Parameter(Mandatory = $true)]
        [string] $Message,

        [Parameter(Mandatory = $true)]
        [System.Management.Automation.ErrorCategory] $Category,

        [Parameter(Mandatory = $true)]
        [string] $Path,

        [System.Exception] $InnerException
    )

    $exception = New-Object -TypeName System.IO.IOException -ArgumentList $Message, $InnerException
    $exception.Data['MSCommerce.Code'] = $Id
    New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList @($exception, "MSCommerce.$Id", $Category, $Path)
}

function script:Read-MSCommerceBaselineFile {
    <#
    .SYNOPSIS
    The text of a baseline file (the library checks its content), or a terminating error.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [string] $Path
    )

    if ([System.IO.Directory]::Exists($Path)) {
        $Caller.ThrowTerminatingError((New-MSCommerceFileErrorRecord -Id FileAccess -Path $Path -Category ReadError -Message "'$Path' is a folder; give the path of a baseline file."))
    }
    if (-not [System.IO.File]::Exists($Path)) {
        $Caller.ThrowTerminatingError((New-MSCommerceFileErrorRecord -Id FileNotFound -Path $Path -Category ObjectNotFound -Message "The baseline file '$Path' does not exist."))
    }
    try {
        # UTF-8 unless the file starts with another byte order mark.
        [System.IO.File]::ReadAllText($Path, [System.Text.Encoding]::UTF8)
    }
    catch {
        $Caller.ThrowTerminatingError((New-MSCommerceFileErrorRecord -Id FileAccess -Path $Path -Category ReadError -InnerException $_.Exception -Message "The baseline file '$Path' cannot be read: $($_.Exception.GetBaseException().Message)"))
    }
}

function script:ConvertTo-MSCommerceJsonText {
    <#
    .SYNOPSIS
    One JSON value of a baseline: null, a string (escaped), a date as RFC 3339 UTC text.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [AllowNull()]
        [object] $Value
    )

    if ($null -eq $Value) {
        return 'null'
    }
    if ($Value -is [datetime]) {
        # PowerShell 7's ConvertFrom-Json makes a [datetime] of the library's ExportedAt.
        $Value = $Value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
    }
    $builder = New-Object -TypeName System.Text.StringBuilder
    $null = $builder.Append('"')
    foreach ($character in ([string]$Value).ToCharArray()) {
        $code = [int]$character
        if ($character -eq '"' -or $character -eq '\') {
            $null = $builder.Append('\').Append($character)
        }
        elseif ($code -lt 0x20) {
            $null = $builder.Append('\u').Append($code.ToString('x4'))
        }
        else {
            $null = $builder.Append($character)
        }
    }
    $null = $builder.Append('"')
    $builder.ToString()
}

function script:ConvertTo-MSCommerceBaselineJson {
    <#
    .SYNOPSIS
    A baseline object as the file's indented JSON, in the library's property order.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Baseline
    )

    $lines = New-Object -TypeName System.Collections.Generic.List[string]
    $lines.Add('{')
    foreach ($property in $Baseline.PSObject.Properties) {
        if ($property.Name -ne 'Products') {
            $lines.Add(('  "{0}": {1},' -f $property.Name, (ConvertTo-MSCommerceJsonText -Value $property.Value)))
            continue
        }
        $products = @($property.Value | Where-Object { $null -ne $_ })
        if ($products.Count -eq 0) {
            $lines.Add('  "Products": [],')
            continue
        }
        $lines.Add('  "Products": [')
        for ($index = 0; $index -lt $products.Count; $index++) {
            $fields = @($products[$index].PSObject.Properties | ForEach-Object { '      "{0}": {1}' -f $_.Name, (ConvertTo-MSCommerceJsonText -Value $_.Value) })
            $end = if ($index -lt $products.Count - 1) { '    },' } else { '    }' }
            $lines.Add('    {')
            $lines.Add($fields -join ",`n")
            $lines.Add($end)
        }
        $lines.Add('  ],')
    }
    # No comma after the last property.
    $last = $lines.Count - 1
    $lines[$last] = $lines[$last].TrimEnd(',')
    $lines.Add('}')
    ($lines.ToArray() -join "`n") + "`n"
}

function script:Export-MSCommerceBaselineFile {
    <#
    .SYNOPSIS
    Export-MSCommerceBaseline's work: refuses to overwrite without -Force, asks ShouldProcess, gets
    the tenant's baseline, writes the file, outputs the baseline with -PassThru.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Request,

        [Parameter(Mandatory = $true)]
        [string] $Path,

        [switch] $Force,

        [switch] $PassThru,

        [string] $TypeName
    )

    if ([System.IO.Directory]::Exists($Path)) {
        $Caller.ThrowTerminatingError((New-MSCommerceFileErrorRecord -Id FileAccess -Path $Path -Category WriteError -Message "'$Path' is a folder; give the path of the baseline file to write."))
    }
    if ([System.IO.File]::Exists($Path) -and -not $Force) {
        $Caller.ThrowTerminatingError((New-MSCommerceFileErrorRecord -Id FileExists -Path $Path -Category ResourceExists -Message "The file '$Path' already exists; use -Force to overwrite it."))
    }
    $rule = [string]$Request['otherProducts']
    if ([string]::IsNullOrEmpty($rule)) {
        $rule = 'Keep'
    }
    if (-not $Caller.ShouldProcess($Path, "Export the policy '$($Request['policyId'])' of every product (other products: $rule)")) {
        return
    }

    $call = Invoke-MSCommerceNativeCall -Operation get -Request $Request
    if ($call.Code -ne 0 -or $null -ne $call.Answer.error -or $null -eq $call.Answer.value) {
        Write-MSCommerceCallError -Caller $Caller -Operation get -Call $call -TargetObject $Path -Terminating
        return
    }
    $baseline = $call.Answer.value
    try {
        [System.IO.File]::WriteAllText($Path, (ConvertTo-MSCommerceBaselineJson -Baseline $baseline), (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
    }
    catch {
        $Caller.ThrowTerminatingError((New-MSCommerceFileErrorRecord -Id FileAccess -Path $Path -Category WriteError -InnerException $_.Exception -Message "The baseline file '$Path' cannot be written: $($_.Exception.GetBaseException().Message)"))
    }
    Write-Verbose -Message "Wrote the baseline of $(@($baseline.Products).Count) products to '$Path'."
    if ($PassThru) {
        Add-MSCommerceTypeName -InputObject $baseline -TypeName $TypeName
    }
}

function script:Invoke-MSCommerceFileOrBulk {
    <#
    .SYNOPSIS
    The dispatcher's requests that involve a baseline file or a bulk run, given its bound
    parameters: -OutFile exports a baseline to it; -InFile puts the file's text in each request
    (any error then ends the command) and sends it as usual; a bulk request runs through
    Invoke-MSCommerceBulk, a request for several tenants through Invoke-MSCommerceFleet.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $Bound
    )

    $caller = $Bound['Caller']
    $requests = @($Bound['Request'] | Where-Object { $null -ne $_ })
    $typeName = [string]$Bound['TypeName']
    $activity = [string]$Bound['Activity']
    if ([string]::IsNullOrEmpty($activity)) {
        $activity = 'Updating product policies'
    }
    # One tenant: the request's tenantId; several: a fleet run (Fleet.ps1).
    $fleet = @($requests | Where-Object { Set-MSCommerceTenantField -Request $_ }).Count -gt 0
    if (-not [string]::IsNullOrEmpty([string]$Bound['OutFile'])) {
        $path = Resolve-MSCommerceFileSystemPath -Path ([string]$Bound['OutFile'])
        Export-MSCommerceBaselineFile -Caller $caller -Request $requests[0] -Path $path -Force:([bool]$Bound['Force']) -PassThru:([bool]$Bound['PassThru']) -TypeName $typeName
        return
    }
    $target = $Bound['TargetObject']
    $terminating = [bool]$Bound['Terminating']
    if (-not [string]::IsNullOrEmpty([string]$Bound['InFile'])) {
        $target = Resolve-MSCommerceFileSystemPath -Path ([string]$Bound['InFile'])
        $text = Read-MSCommerceBaselineFile -Caller $caller -Path $target
        foreach ($item in $requests) {
            $item['baseline'] = $text
        }
        $terminating = $true
    }
    if ($fleet) {
        # Several tenants (Fleet.ps1): a get (a listing, a baseline test) reads; a bulk change or a
        # baseline apply writes.
        $operation = if ([string]$Bound['Operation'] -eq 'get') { 'get' } else { 'update' }
        foreach ($item in $requests) {
            Invoke-MSCommerceFleet -Caller $caller -Operation $operation -Request $item -TypeName $typeName -Activity $activity -TargetObject $target
        }
        return
    }
    if ([string]$Bound['Operation'] -ne 'bulk') {
        Invoke-MSCommerceNative -Caller $caller -Operation ([string]$Bound['Operation']) -Request $requests -TypeName $typeName -TargetObject $target -Activity $activity -Terminating:$terminating
        return
    }
    foreach ($item in $requests) {
        $itemTarget = $target
        if ($null -eq $itemTarget) {
            $itemTarget = Get-MSCommerceRequestTarget -Request $item
        }
        Invoke-MSCommerceBulk -Caller $caller -Request $item -TypeName $typeName -Activity $activity -TargetObject $itemTarget -Terminating:$terminating
    }
}
