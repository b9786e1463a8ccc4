"""Counts and describes what exists in an AWS endpoint (moto in the tests), through the AWS API
with boto3, so the tests check the cloud itself and not matihnet's state.

usage: aws_inventory.py inventory | delete-record ZONE_NAME RECORD_NAME TYPE
       | create-foreign-lb NAME | create-vpc CIDR NAME | create-zone NAME
       | put-record ZONE_NAME RECORD_NAME TYPE TTL VALUE | attach-igw VPC_ID
Prints JSON.
"""
import json
import sys

import boto3

REGION = "eu-west-1"


def clients():
    return (
        boto3.client("ec2", region_name=REGION),
        boto3.client("elbv2", region_name=REGION),
        boto3.client("route53", region_name="us-east-1"),
    )


def tags(obj):
    return {t["Key"]: t["Value"] for t in obj.get("Tags", [])}


def inventory():
    ec2, elb, r53 = clients()
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    vpc_ids = {v["VpcId"] for v in vpcs}
    subnets = [s for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] in vpc_ids]
    igws = ec2.describe_internet_gateways()["InternetGateways"]
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]
    tables = [t for t in ec2.describe_route_tables()["RouteTables"]
              if t["VpcId"] in vpc_ids and not any(a.get("Main") for a in t.get("Associations", []))]
    eips = ec2.describe_addresses()["Addresses"]
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    tgs = elb.describe_target_groups()["TargetGroups"]
    listeners = [l for lb in lbs for l in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]]
    zones = r53.list_hosted_zones()["HostedZones"]
    records = {}
    for z in zones:
        sets = r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]
        records[z["Name"]] = [
            {
                "name": s["Name"].replace("\\052", "*"),
                "type": s["Type"],
                "values": [r["Value"] for r in s.get("ResourceRecords", [])],
                "alias": s.get("AliasTarget", {}).get("DNSName"),
            }
            for s in sets
        ]
    return {
        "vpcs": [{"id": v["VpcId"], "cidr": v["CidrBlock"], "tags": tags(v),
                  "cidrs": [a["CidrBlock"] for a in v.get("CidrBlockAssociationSet", [])
                            if a["CidrBlockState"]["State"] in ("associated", "associating")]} for v in vpcs],
        "subnets": [{"id": s["SubnetId"], "cidr": s["CidrBlock"], "az": s["AvailabilityZone"], "tags": tags(s)} for s in subnets],
        "internet_gateways": [{"id": g["InternetGatewayId"], "attached": [a["VpcId"] for a in g.get("Attachments", [])], "tags": tags(g)} for g in igws],
        "nat_gateways": [{"id": n["NatGatewayId"], "subnet": n["SubnetId"], "tags": tags(n)} for n in nats],
        "route_tables": [{"id": t["RouteTableId"],
                          "subnets": [a["SubnetId"] for a in t.get("Associations", []) if a.get("SubnetId")],
                          "default": [r.get("GatewayId") or r.get("NatGatewayId") for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"],
                          "tags": tags(t)} for t in tables],
        "eips": [{"allocation": a["AllocationId"], "tags": tags(a)} for a in eips],
        "load_balancers": [{"name": lb["LoadBalancerName"], "type": lb["Type"], "scheme": lb["Scheme"], "dns": lb["DNSName"]} for lb in lbs],
        "target_groups": [{"name": g["TargetGroupName"], "port": g["Port"], "protocol": g["Protocol"], "target_type": g["TargetType"]} for g in tgs],
        "listeners": [{"port": l["Port"], "protocol": l["Protocol"]} for l in listeners],
        "zones": [{"id": z["Id"], "name": z["Name"]} for z in zones],
        "zone_name_servers": {z["Name"]: r53.get_hosted_zone(Id=z["Id"])["DelegationSet"]["NameServers"] for z in zones},
        "records": records,
    }


def delete_record(zone_name, record_name, rtype):
    _, _, r53 = clients()
    zone = next(z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == zone_name)
    sets = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    target = next(s for s in sets if s["Name"] == record_name and s["Type"] == rtype)
    r53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": target}]},
    )
    return {"deleted": record_name}


def create_foreign_lb(name):
    """A load balancer with matihnet's name but not its tags, as another team might have made."""
    ec2, elb, _ = clients()
    vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="192.168.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    lb = elb.create_load_balancer(Name=name, Subnets=[subnet], Type="network", Scheme="internet-facing")
    return {"arn": lb["LoadBalancers"][0]["LoadBalancerArn"]}


def create_vpc(cidr, name):
    """A VPC made outside matihnet (a landing-zone team's), tagged only with its Name."""
    ec2, _, _ = clients()
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": name}])
    return {"id": vpc}


def attach_igw(vpc):
    """The internet gateway a landing zone's VPC comes with."""
    ec2, _, _ = clients()
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    return {"id": igw}


def create_zone(name):
    """A registered zone made outside matihnet."""
    _, _, r53 = clients()
    zone = r53.create_hosted_zone(Name=name, CallerReference="registered-" + name)
    return {"id": zone["HostedZone"]["Id"].split("/")[-1]}


def put_record(zone_name, record_name, rtype, ttl, value):
    _, _, r53 = clients()
    zone = next(z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == zone_name)
    r53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": record_name, "Type": rtype, "TTL": int(ttl), "ResourceRecords": [{"Value": value}]}}]},
    )
    return {"put": record_name}


if __name__ == "__main__":
    if sys.argv[1] == "inventory":
        print(json.dumps(inventory()))
    elif sys.argv[1] == "delete-record":
        print(json.dumps(delete_record(sys.argv[2], sys.argv[3], sys.argv[4])))
    elif sys.argv[1] == "create-foreign-lb":
        print(json.dumps(create_foreign_lb(sys.argv[2])))
    elif sys.argv[1] == "create-vpc":
        print(json.dumps(create_vpc(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "attach-igw":
        print(json.dumps(attach_igw(sys.argv[2])))
    elif sys.argv[1] == "create-zone":
        print(json.dumps(create_zone(sys.argv[2])))
    elif sys.argv[1] == "put-record":
        print(json.dumps(put_record(*sys.argv[2:7])))
    else:
        sys.exit("unknown command " + sys.argv[1])
