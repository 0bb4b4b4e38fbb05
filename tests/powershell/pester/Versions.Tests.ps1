#Requires -Version 5.1
# The module's version: scripts written for Microsoft's MSCommerce 2.x accept it, and which module
# Import-Module MSCommerce loads when Microsoft's is installed beside it (about_MSCommerce).

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')

    $script:OurGuid = 'cbaba3d7-3c4b-4a8b-91aa-72d1410cb00c'
    # A module folder (as in $env:PSModulePath) holding this module as MSCommerce/<version> and a
    # stand-in for Microsoft's MSCommerce 3.1.0 (its own GUID, one function), as Install-Module
    # lays them out side by side.
    $script:ModulesFolder = Join-Path ([System.IO.Path]::GetTempPath()) ("mscommerce-modules-{0}" -f [guid]::NewGuid())
    $version = (Test-ModuleManifest -Path $script:ManifestPath).Version.ToString()
    $ours = Join-Path $script:ModulesFolder "MSCommerce/$version"
    $null = New-Item -ItemType Directory -Path $ours
    Copy-Item -Path (Join-Path (Split-Path -Parent $script:ManifestPath) '*') -Destination $ours -Recurse
    $microsofts = Join-Path $script:ModulesFolder 'MSCommerce/3.1.0'
    $null = New-Item -ItemType Directory -Path $microsofts
    Set-Content -LiteralPath (Join-Path $microsofts 'MSCommerce.psd1') -Value "@{ ModuleVersion = '3.1.0'; GUID = '00000000-0000-4000-8000-000000000031'; RootModule = 'MSCommerce.psm1'; FunctionsToExport = @('Connect-MSCommerce') }"
    Set-Content -LiteralPath (Join-Path $microsofts 'MSCommerce.psm1') -Value "function Connect-MSCommerce { 'Microsoft stand-in' }"

    # Runs $Script in a new runspace whose module path starts with the folder above. -File runs it
    # as a .ps1 file (#Requires is honoured in script files only).
    function Invoke-WithModulePath {
        param(
            [Parameter(Mandatory = $true)]
            [string] $Script,

            [switch] $File
        )
        $saved = $env:PSModulePath
        $env:PSModulePath = $script:ModulesFolder + [System.IO.Path]::PathSeparator + $saved
        $path = $null
        $powershell = [powershell]::Create()
        try {
            if ($File) {
                $path = Join-Path $script:ModulesFolder ("script-{0}.ps1" -f [guid]::NewGuid())
                Set-Content -LiteralPath $path -Value $Script -Encoding UTF8
                $null = $powershell.AddCommand($path)
            }
            else {
                $null = $powershell.AddScript($Script, $true)
            }
            @($powershell.Invoke())
            if ($powershell.Streams.Error.Count -gt 0) {
                throw "$($powershell.Streams.Error[0])"
            }
        }
        finally {
            $powershell.Dispose()
            $env:PSModulePath = $saved
            if ($null -ne $path) {
                Remove-Item -LiteralPath $path -Force
            }
        }
    }
}

AfterAll {
    Remove-Item -LiteralPath $script:ModulesFolder -Recurse -Force -ErrorAction SilentlyContinue
    Stop-TestEnvironment
}

Describe 'Scripts written for MSCommerce 2.x' {
    It 'run under #Requires -Modules @{ ModuleName = ''MSCommerce''; ModuleVersion = ''2.0'' }' {
        $output = Invoke-WithModulePath -File -Script @'
#Requires -Modules @{ ModuleName = 'MSCommerce'; ModuleVersion = '2.0' }
$module = Get-Module MSCommerce
"$($module.Version) $($module.Guid)"
'@
        $output | Should -Be "4.0.0 $($script:OurGuid)"
    }

    It 'import with -MinimumVersion 2.0' {
        $output = Invoke-WithModulePath -Script @'
Import-Module MSCommerce -MinimumVersion 2.0 -ErrorAction Stop
(Get-Module MSCommerce).Guid.ToString()
'@
        $output | Should -Be $script:OurGuid
    }
}

Describe 'Beside Microsoft''s module in the same module folder' {
    It 'Import-Module MSCommerce loads this one (the higher version)' {
        $output = Invoke-WithModulePath -Script @'
Import-Module MSCommerce -ErrorAction Stop
$module = Get-Module MSCommerce
"$($module.Version) $($module.Guid) $([bool](Get-Command Get-MSCommerceConnectionInfo -ErrorAction SilentlyContinue))"
'@
        $output | Should -Be "4.0.0 $($script:OurGuid) True"
    }

    It 'Microsoft''s is picked with -MaximumVersion, this one by its GUID' {
        $output = Invoke-WithModulePath -Script @'
Import-Module MSCommerce -MaximumVersion 3.99 -ErrorAction Stop
Connect-MSCommerce
Remove-Module MSCommerce
Import-Module -FullyQualifiedName @{ ModuleName = 'MSCommerce'; Guid = 'cbaba3d7-3c4b-4a8b-91aa-72d1410cb00c'; ModuleVersion = '2.0' } -ErrorAction Stop
(Get-Module MSCommerce).Version.ToString()
'@
        $output | Should -Be @('Microsoft stand-in', '4.0.0')
    }
}
