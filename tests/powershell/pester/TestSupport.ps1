# Shared set-up of the Pester suite, dot-sourced by every *.Tests.ps1 in its BeforeAll: finds the
# native library and the emulator binary, starts a plain and a TLS emulator, points the module at
# them through MSCOMMERCE_* variables, imports the module, and defines the helpers the tests use.
# Stop-TestEnvironment (in AfterAll) stops the emulators and restores the variables.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../../..')).Path
$script:Policy = 'AllowSelfServicePurchase'
$script:NotConnectedMessage = 'You must call the Connect-MSCommerce cmdlet before calling any other cmdlets'
$script:AppClientId = '8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a01'
$script:AppSecret = 'emulator-app-secret'
$script:Tenant = 'contoso.onmicrosoft.com'

# The module's own rule picks the library file for this OS and architecture.
. (Join-Path $script:RepoRoot 'ps-module/MSCommerce/Private/Native.ps1')
$runtime = Get-MSCommerceRuntimeIdentifier
$targetDir = if ($env:CARGO_TARGET_DIR) { $env:CARGO_TARGET_DIR } else { Join-Path $script:RepoRoot 'target' }
$release = Join-Path $targetDir 'release'
$libraryName = $runtime.FileName
$binaryName = if ($runtime.OS -eq 'win') { 'mscommerce.exe' } else { 'mscommerce' }
$script:Library = if ($env:MSCOMMERCE_TEST_LIBRARY) { $env:MSCOMMERCE_TEST_LIBRARY } else { Join-Path $release $libraryName }
$script:Binary = if ($env:MSCOMMERCE_TEST_BIN) { $env:MSCOMMERCE_TEST_BIN } else { Join-Path $release $binaryName }
if (-not (Test-Path -LiteralPath $script:Library)) {
    throw "Native library not built: $($script:Library) (run cargo build --release)"
}
if (-not (Test-Path -LiteralPath $script:Binary)) {
    throw "Emulator binary not built: $($script:Binary) (run cargo build --release)"
}

function Start-TestEmulator {
    param(
        [string[]] $Arguments = @()
    )
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = $script:Binary
    $info.Arguments = (@('emulator', '--port', '0') + $Arguments) -join ' '
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($info)
    $line = $process.StandardOutput.ReadLine()
    if ($line -notmatch 'Emulator listening on (\S+)') {
        $process.Kill()
        throw "The emulator did not start: $line"
    }
    $null = $process.StandardOutput.ReadToEndAsync()
    $null = $process.StandardError.ReadToEndAsync()
    [pscustomobject]@{
        Process = $process
        Url     = $Matches[1].TrimEnd('/')
    }
}

function Invoke-Emulator {
    param(
        [string] $Method = 'Post',
        [string] $Path,
        [hashtable] $Body = @{}
    )
    $uri = $script:Emulator.Url + $Path
    if ($Method -eq 'Get') {
        return Invoke-RestMethod -Method Get -Uri $uri
    }
    Invoke-RestMethod -Method $Method -Uri $uri -ContentType 'application/json' -Body (ConvertTo-Json -InputObject $Body -Compress)
}

function Get-EmulatorToken {
    param(
        [string] $User = 'admin'
    )
    (Invoke-Emulator -Path '/_emulator/token' -Body @{ user = $User; lifetimeSeconds = 3600 }).access_token
}

function Reset-Emulator {
    $null = Invoke-Emulator -Path '/_emulator/reset'
}

function Get-EmulatorStats {
    Invoke-Emulator -Method Get -Path '/_emulator/stats'
}

function Connect-AsUser {
    param(
        [string] $User = 'admin'
    )
    Connect-MSCommerce -AccessToken (Get-EmulatorToken -User $User) -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null
}

$script:Emulator = Start-TestEmulator
$caFile = Join-Path ([System.IO.Path]::GetTempPath()) ("mscommerce-pester-ca-{0}.pem" -f [guid]::NewGuid())
$script:TlsEmulator = Start-TestEmulator -Arguments @('--tls', '--ca-out', "`"$caFile`"")
$script:CaFile = $caFile

$script:SavedEnvironment = @{}
foreach ($name in @('MSCOMMERCE_NATIVE_LIBRARY', 'MSCOMMERCE_SERVICE_URL', 'MSCOMMERCE_AUTHORITY_HOST', 'MSCOMMERCE_CA_FILE', 'MSCOMMERCE_MAX_RETRIES')) {
    $script:SavedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
}
$env:MSCOMMERCE_NATIVE_LIBRARY = (Resolve-Path -LiteralPath $script:Library).Path
$env:MSCOMMERCE_SERVICE_URL = $script:Emulator.Url
$env:MSCOMMERCE_AUTHORITY_HOST = $script:Emulator.Url
$env:MSCOMMERCE_CA_FILE = $caFile
$env:MSCOMMERCE_MAX_RETRIES = '1'

# MSCOMMERCE_TEST_MODULE names another copy of the module's manifest (a staged or installed module,
# or an older revision to show that a test fails on it).
$script:ManifestPath = if ($env:MSCOMMERCE_TEST_MODULE) { $env:MSCOMMERCE_TEST_MODULE } else { Join-Path $script:RepoRoot 'ps-module/MSCommerce/MSCommerce.psd1' }
Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop

function Stop-TestEnvironment {
    Remove-Module -Name MSCommerce -Force -ErrorAction SilentlyContinue
    foreach ($server in @($script:Emulator, $script:TlsEmulator)) {
        if ($null -ne $server -and -not $server.Process.HasExited) {
            $server.Process.Kill()
            $server.Process.WaitForExit(10000) | Out-Null
        }
    }
    if ($script:CaFile -and (Test-Path -LiteralPath $script:CaFile)) {
        Remove-Item -LiteralPath $script:CaFile -Force
    }
    foreach ($name in @($script:SavedEnvironment.Keys)) {
        [Environment]::SetEnvironmentVariable($name, $script:SavedEnvironment[$name])
    }
}

function Get-TestPowerShellPath {
    # The PowerShell this suite runs under, to start a child of the same kind: pwsh's app host in
    # $PSHOME (the process may be `dotnet pwsh.dll`), or Windows PowerShell's powershell.exe.
    $names = if ($PSVersionTable.PSEdition -eq 'Desktop') { @('powershell.exe') } else { @('pwsh.exe', 'pwsh') }
    foreach ($name in $names) {
        $candidate = Join-Path $PSHOME $name
        if (Test-Path -LiteralPath $candidate -PathType Leaf) {
            return $candidate
        }
    }
    throw "No PowerShell executable in $PSHOME"
}

    # Runs $Script in a new runspace of this process after importing the module and connecting as
    # admin. -GlobalScope runs it in the global scope instead (dot-sourced), as typed at a prompt.
    function Invoke-CallerScript {
        param(
            [Parameter(Mandatory = $true)]
            [string] $Script,

            [switch] $GlobalScope
        )
        $preamble = @'
param($Manifest, $Url, $Token)
Import-Module -Name $Manifest -ErrorAction Stop
Connect-MSCommerce -AccessToken $Token -ServiceUrl $Url -AuthorityHost $Url -InformationAction Ignore

'@
        $powershell = [powershell]::Create()
        try {
            $null = $powershell.AddScript($preamble + $Script, -not $GlobalScope)
            $null = $powershell.AddParameter('Manifest', $script:ManifestPath)
            $null = $powershell.AddParameter('Url', $script:Emulator.Url)
            $null = $powershell.AddParameter('Token', (Get-EmulatorToken -User admin))
            $output = $null
            $terminating = $null
            try {
                $output = @($powershell.Invoke())
            }
            catch {
                $terminating = $_.Exception.InnerException
                if ($null -eq $terminating) {
                    $terminating = $_.Exception
                }
            }
            [pscustomobject]@{
                Output      = @($output)
                Terminating = $terminating
                Errors      = @($powershell.Streams.Error)
                Warnings    = @($powershell.Streams.Warning)
                Verbose     = @($powershell.Streams.Verbose)
                Progress    = @($powershell.Streams.Progress)
                Information = @($powershell.Streams.Information)
            }
        }
        finally {
            $powershell.Dispose()
        }
    }
