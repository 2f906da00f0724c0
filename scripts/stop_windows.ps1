# Stop FinAlly's container (web server and price worker stop cleanly) and remove it. The data volume is
# kept: scripts\start_windows.ps1 brings everything back. Safe to run when nothing is running.
#   powershell -ExecutionPolicy Bypass -File scripts\stop_windows.ps1
$ErrorActionPreference = "Stop"

$Name = if ($env:FINALLY_CONTAINER) { $env:FINALLY_CONTAINER } else { "finally" }
$Volume = if ($env:FINALLY_VOLUME) { $env:FINALLY_VOLUME } else { "finally-data" }

if (-not (Get-Command docker -ErrorAction SilentlyContinue)) {
    Write-Host "Docker is not installed: nothing to stop."
    exit 0
}
# Not running, Docker cannot say whether FinAlly is: say so in one line rather than pass on the client's error.
docker info *> $null
if ($LASTEXITCODE -ne 0) {
    Write-Host "Docker is installed but not running: start Docker Desktop, then run this again to stop FinAlly."
    exit 1
}
$exists = docker ps -aq --filter "name=^/$Name$"
if (-not $exists) {
    Write-Host "FinAlly is not running."
    exit 0
}
docker stop $Name *> $null
docker rm $Name *> $null
Write-Host "FinAlly stopped. Your data is kept in the Docker volume $Volume (docker volume rm $Volume deletes it)."
