# Loading the native library at the first call that needs it: load the C# shim once per process
# (the precompiled bin/MSCommerce.Native.dll, else src/MSCommerce.Native.cs compiled with
# Add-Type), have it open the library by the absolute path the import found (Private/Import.ps1),
# and open one native session per runspace (module import).

function script:Import-MSCommerceShim {
    <#
    .SYNOPSIS
    Loads the C# shim once per process, then the native library through it.

    .DESCRIPTION
    The shim is the assembly bin/MSCommerce.Native.dll that build.ps1 and build.sh compile. In a
    source checkout without it, src/MSCommerce.Native.cs is compiled with Add-Type (slower: the
    first Add-Type of a process loads the C# compiler), which a Verbose line says. The shim holds
    no path: NativeMethods.Load opens the library by the absolute path given here. It loads once
    per process; asked again, it returns the path it loaded (with another path: a warning).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [string] $ModuleRoot,

        [Parameter(Mandatory = $true)]
        [string] $LibraryPath
    )

    $nativeMethods = 'MSCommerce.Native.NativeMethods' -as [type]
    if ($null -eq $nativeMethods) {
        $assemblyPath = [System.IO.Path]::Combine($ModuleRoot, 'bin', 'MSCommerce.Native.dll')
        $sourcePath = [System.IO.Path]::Combine($ModuleRoot, 'src', 'MSCommerce.Native.cs')
        if ([System.IO.File]::Exists($assemblyPath)) {
            if ($ExecutionContext.SessionState.LanguageMode -eq 'FullLanguage') {
                # Add-Type -LiteralPath would load the C# compiler's assemblies too (~0.25 s).
                $null = [System.Reflection.Assembly]::LoadFrom($assemblyPath)
            }
            else {
                Add-Type -LiteralPath $assemblyPath -ErrorAction Stop
            }
        }
        elseif ([System.IO.File]::Exists($sourcePath)) {
            $source = [System.IO.File]::ReadAllText($sourcePath, [System.Text.Encoding]::UTF8)
            Add-Type -TypeDefinition $source -Language CSharp -ErrorAction Stop
            Write-Verbose ("MSCommerce: compiled the C# shim '$sourcePath' with Add-Type, as '$assemblyPath' " +
                'is missing (build.ps1 or build.sh builds it; a module with it imports faster).')
        }
        else {
            $message = "MSCommerce: the C# shim is missing: neither '$assemblyPath' nor its source '$sourcePath' exists. " +
                'Reinstall the module, or build it with build.ps1.'
            throw (New-Object System.IO.FileNotFoundException -ArgumentList $message, $assemblyPath)
        }
        $nativeMethods = 'MSCommerce.Native.NativeMethods' -as [type]
    }
    if ($null -eq $nativeMethods.GetMethod('Load') -or $null -eq ('MSCommerce.Native.ProcessEnvironment' -as [type])) {
        throw ('MSCommerce: this process holds the shim of an older MSCommerce module (it lacks run-time loading or the import helpers). ' +
            'Start a new PowerShell session to import this version.')
    }

    try {
        $loadedPath = [string]$nativeMethods::Load($LibraryPath)
    }
    catch {
        # The shim's own message ("MSCommerce: could not load the native library '...': why"), not
        # PowerShell's 'Exception calling "Load" with "1" argument(s)' around it.
        $inner = $_.Exception
        while ($null -ne $inner.InnerException) {
            $inner = $inner.InnerException
        }
        throw $inner.Message
    }
    if ($loadedPath -ne $LibraryPath) {
        Write-Warning ("MSCommerce: this process already loaded the native library from '$loadedPath'; " +
            "it keeps using it instead of '$LibraryPath'. Start a new PowerShell session to switch.")
    }
    $nativeMethods
}

function script:Get-MSCommerceSessionOptionsJson {
    <#
    .SYNOPSIS
    The options of the native session, from MSCOMMERCE_* environment variables (all optional).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()

    # What PowerShell sees of the variables the library reads (Environment.ps1): on Linux and macOS
    # the library's own view of the environment misses $env: changes made in this session.
    $options = @{ environmentVariables = (Get-MSCommerceEnvironmentSnapshot) }
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_ENVIRONMENT)) {
        $options['environment'] = [string]$env:MSCOMMERCE_ENVIRONMENT
    }
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_SERVICE_URL)) {
        $options['serviceUrl'] = [string]$env:MSCOMMERCE_SERVICE_URL
    }
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_AUTHORITY_HOST)) {
        $options['authorityHost'] = [string]$env:MSCOMMERCE_AUTHORITY_HOST
    }
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_CA_FILE)) {
        $options['caCertificatePath'] = Resolve-MSCommerceFileSystemPath -Path $env:MSCOMMERCE_CA_FILE
    }
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_PROXY)) {
        $options['proxy'] = [string]$env:MSCOMMERCE_PROXY
    }
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_TIMEOUT_SECONDS)) {
        $options['timeoutSeconds'] = [double]::Parse($env:MSCOMMERCE_TIMEOUT_SECONDS, [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if (-not [string]::IsNullOrEmpty($env:MSCOMMERCE_MAX_RETRIES)) {
        $options['maxRetries'] = [int]::Parse($env:MSCOMMERCE_MAX_RETRIES, [System.Globalization.CultureInfo]::InvariantCulture)
    }
    # This runs at import: the shim's own writer, compiled ahead of time, keeps ConvertTo-Json (and
    # the load of Microsoft.PowerShell.Utility) and the JIT of System.Text.Json (~0.2 s in a fresh
    # process) out of it.
    [MSCommerce.Native.Json]::Serialize($options)
}

function script:Import-MSCommerceNative {
    <#
    .SYNOPSIS
    Loads the shim and the library (once per module import) and checks the library's ABI version,
    which it returns.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param()

    if ($null -eq $script:MSCommerceAbiVersion) {
        $libraryPath = $script:MSCommerceLibraryPath
        $nativeMethods = Import-MSCommerceShim -ModuleRoot $script:MSCommerceModuleRoot -LibraryPath $libraryPath
        $abi = [MSCommerce.Native.NativeSession]::AbiVersion()
        if ($abi -ne $nativeMethods::ExpectedAbiVersion) {
            throw ("MSCommerce: the native library '$libraryPath' implements ABI version $abi; " +
                "this module needs version $($nativeMethods::ExpectedAbiVersion). Rebuild with build.ps1.")
        }
        $script:MSCommerceAbiVersion = $abi
    }
    $script:MSCommerceAbiVersion
}

function script:Get-MSCommerceNativeSession {
    <#
    .SYNOPSIS
    This runspace's native session, opened on first use: loads the shim and the library, checks the
    ABI version, creates the session. $null once the module was removed (the session is closed).
    #>
    [CmdletBinding()]
    param()

    if ($null -ne $script:MSCommerceSession -or $script:MSCommerceSessionClosed) {
        return $script:MSCommerceSession
    }
    $libraryPath = $script:MSCommerceLibraryPath
    $abi = Import-MSCommerceNative
    $optionsJson = Get-MSCommerceSessionOptionsJson
    $result = $null
    $session = [MSCommerce.Native.NativeSession]::Create($optionsJson, [ref] $result)
    if ($null -eq $session) {
        $detail = $result.Json
        try {
            $parsed = ConvertFrom-Json -InputObject $result.Json
            if ($null -ne $parsed.error) {
                $detail = $parsed.error.message
            }
        }
        catch {
            Write-Verbose "MSCommerce: could not parse the session error: $($_.Exception.Message)"
        }
        throw "MSCommerce: could not open a native session (code $($result.Code)): $detail"
    }

    $script:MSCommerceSession = $session
    Write-Verbose ("MSCommerce: native library $([MSCommerce.Native.NativeSession]::LibraryVersion()) " +
        "(ABI $abi) loaded from '$libraryPath'")
    $session
}
