-- Health of a videosdk-token-operator object (VideoSdkToken, VideoSdkIssuer,
-- ClusterVideoSdkIssuer) for Argo CD, from the status the operator writes:
-- status.observedGeneration, and the conditions Ready, Reconciling and Stalled.
local hs = {}
local status = obj.status
if status == nil or status.observedGeneration == nil
    or status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the latest generation"
  return hs
end
local ready = nil
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.status == "True" and condition.type == "Stalled" then
      hs.status = "Degraded"
      hs.message = (condition.reason or "") .. ": " .. (condition.message or "")
      return hs
    end
    if condition.status == "True" and condition.type == "Reconciling" then
      hs.status = "Progressing"
      hs.message = (condition.reason or "") .. ": " .. (condition.message or "")
      return hs
    end
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "") .. ": " .. (ready.message or "")
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the operator"
return hs
