{% set m = cookiecutter | tfscaffold_model -%}
# VPC with public subnets for the load balancer and NAT gateway, and private
# subnets for the tasks and the database, one of each per availability zone.

resource "aws_vpc" "this" {
  cidr_block           = {{ m.network.vpc_cidr | hcl }}
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(local.tags, { Name = {{ m.names.prefix | hcl }} })
}

# Adopt the default security group and leave it without rules, so nothing uses it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(local.tags, { Name = {{ (m.names.prefix ~ "-default") | hcl }} })
}

resource "aws_subnet" "public" {
  count = {{ m.network.zone_count }}

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 4, count.index)
  availability_zone = local.azs[count.index]

  tags = merge(local.tags, { Name = "${local.name_prefix}-public-${local.azs[count.index]}" })
}

resource "aws_subnet" "private" {
  count = {{ m.network.zone_count }}

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 4, count.index + 8)
  availability_zone = local.azs[count.index]

  tags = merge(local.tags, { Name = "${local.name_prefix}-private-${local.azs[count.index]}" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(local.tags, { Name = {{ m.names.prefix | hcl }} })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge(local.tags, { Name = {{ (m.names.prefix ~ "-public") | hcl }} })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = {{ m.network.zone_count }}

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# The address of the NAT gateway. Provider 6 removed `vpc` and provider 3
# cannot set `domain`, so `domain` is set only when the version constraint
# admits nothing older than 5.0.0. Without either, AWS allocates a VPC address.
resource "aws_eip" "nat" {
{%- if m.aws_provider.eip_domain %}
  domain = "vpc"
{% endif %}
  tags = merge(local.tags, { Name = {{ (m.names.prefix ~ "-nat") | hcl }} })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id

  tags = merge(local.tags, { Name = {{ m.names.prefix | hcl }} })
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  tags = merge(local.tags, { Name = {{ (m.names.prefix ~ "-private") | hcl }} })
}

resource "aws_route" "private_nat" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this.id
}

resource "aws_route_table_association" "private" {
  count = {{ m.network.zone_count }}

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# Flow logs of every network interface in the VPC, kept in an encrypted log group.
resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn

  tags = local.tags
}
