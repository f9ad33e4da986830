using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace LoKO.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Feedback : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "MeanP",
                table: "noise_history",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "ShownLabelIndex",
                table: "examples",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "ShownLoss",
                table: "examples",
                type: "double precision",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "pending_predictions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    TenantId = table.Column<string>(type: "character varying(64)", nullable: false),
                    PredictionId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    PayloadKind = table.Column<int>(type: "integer", nullable: false),
                    Payload = table.Column<byte[]>(type: "bytea", nullable: false),
                    Width = table.Column<int>(type: "integer", nullable: false),
                    Height = table.Column<int>(type: "integer", nullable: false),
                    PredictedIndex = table.Column<int>(type: "integer", nullable: false),
                    ProbabilitiesJson = table.Column<string>(type: "text", nullable: false),
                    AdapterVersion = table.Column<long>(type: "bigint", nullable: false),
                    CreatedUtc = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    ExpiresUtc = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_pending_predictions", x => x.Id);
                    table.ForeignKey(
                        name: "FK_pending_predictions_tenants_TenantId",
                        column: x => x.TenantId,
                        principalTable: "tenants",
                        principalColumn: "TenantId",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_pending_predictions_TenantId_ExpiresUtc",
                table: "pending_predictions",
                columns: new[] { "TenantId", "ExpiresUtc" });

            migrationBuilder.CreateIndex(
                name: "IX_pending_predictions_TenantId_Id",
                table: "pending_predictions",
                columns: new[] { "TenantId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_pending_predictions_TenantId_PredictionId",
                table: "pending_predictions",
                columns: new[] { "TenantId", "PredictionId" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "pending_predictions");

            migrationBuilder.DropColumn(
                name: "MeanP",
                table: "noise_history");

            migrationBuilder.DropColumn(
                name: "ShownLabelIndex",
                table: "examples");

            migrationBuilder.DropColumn(
                name: "ShownLoss",
                table: "examples");
        }
    }
}
